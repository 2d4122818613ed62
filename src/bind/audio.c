/* audio.c (binding): require("loom.core").audio: file I/O, resampling and feature kernels
 * as plain functions on matrices. Not the public API: lua/loom/audio.lua checks options. */
#include "audio.h"
#include "bind.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* read(path) -> samples (frames x channels), rate | nil, message */
static int l_read(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    Matrix *a = loom_newmatrix(L, 0, 0); /* 0x0 owns nothing: the reader fills it */
    char error[512];
    int rate = 0;
    loom_status st = loom_audio_read(&a->m, &rate, path, error, sizeof error);
    if (st != LOOM_OK) {
        lua_pushnil(L);
        lua_pushstring(L, error);
        return 2;
    }
    lua_pushinteger(L, rate);
    return 2;
}

/* write(path, samples, rate, container|nil, encoding|nil) -> true | nil, message */
static int l_write(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    const loom_matrix *s = &loom_checkmatrix(L, 2)->m;
    lua_Integer rate = luaL_checkinteger(L, 3);
    const char *container = luaL_optstring(L, 4, NULL);
    const char *encoding = luaL_optstring(L, 5, NULL);
    if (rate < 1 || rate > 100000000)
        return luaL_error(L, "loom.audio.write: rate must be a positive number of Hz, got %I", rate);
    char error[512];
    loom_status st = loom_audio_write(path, s, (int)rate, container, encoding, error, sizeof error);
    if (st == LOOM_EARG)
        return luaL_error(L, "loom.audio.write: %s", error);
    if (st != LOOM_OK) {
        lua_pushnil(L);
        lua_pushstring(L, error);
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* resample(x, ratio, quality) -> matrix */
static int l_resample(lua_State *L)
{
    const loom_matrix *x = &loom_checkmatrix(L, 1)->m;
    double ratio = luaL_checknumber(L, 2);
    lua_Integer quality = luaL_checkinteger(L, 3);
    Matrix *out = loom_newmatrix(L, loom_audio_resampled_frames(x->rows, ratio), x->cols);
    loom_check(L, loom_audio_resample(&out->m, x, ratio, (int)quality), "loom.audio.resample");
    return 1;
}

/* Option `name` of the table at t, which lua/loom/audio.lua completes; a wrong type names
 * the option (a C caller of the core table can pass anything). */
static double num_field(lua_State *L, int t, const char *name, const char *fn)
{
    if (lua_getfield(L, t, name) != LUA_TNUMBER)
        luaL_error(L, "%s: option '%s' must be a number, got %s", fn, name, luaL_typename(L, -1));
    double v = lua_tonumber(L, -1);
    lua_pop(L, 1);
    return v;
}

static int bool_field(lua_State *L, int t, const char *name, const char *fn)
{
    int type = lua_getfield(L, t, name);
    if (type != LUA_TBOOLEAN && type != LUA_TNIL)
        luaL_error(L, "%s: option '%s' must be a boolean, got %s", fn, name, luaL_typename(L, -1));
    int v = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return v;
}

static const char *const WINDOWS[] = {"povey", "hamming", "hanning", "rectangular", "blackman", NULL};

/* The options table lua/loom/audio.lua completes (every field present). */
static void read_options(lua_State *L, int t, loom_audio_options *o, loom_audio_kind kind,
                         const char *fn)
{
    loom_audio_options_default(o, kind, num_field(L, t, "sample_rate", fn));
    o->frame_length_ms = num_field(L, t, "frame_length", fn);
    o->frame_shift_ms = num_field(L, t, "frame_shift", fn);
    o->preemph = num_field(L, t, "preemphasis", fn);
    o->remove_dc = bool_field(L, t, "remove_dc", fn);
    lua_getfield(L, t, "window");
    const char *window = lua_tostring(L, -1);
    int w = -1;
    for (int k = 0; window && WINDOWS[k]; k++)
        if (strcmp(window, WINDOWS[k]) == 0)
            w = k;
    if (w < 0)
        luaL_error(L, "%s: option 'window' must be one of povey, hamming, hanning, rectangular, "
                   "blackman, got %s", fn, window ? window : luaL_typename(L, -1));
    o->window = (loom_audio_window)w;
    lua_pop(L, 1);
    o->blackman_coeff = num_field(L, t, "blackman_coeff", fn);
    o->snip_edges = bool_field(L, t, "snip_edges", fn);
    o->round_to_power_of_two = bool_field(L, t, "round_to_power_of_two", fn);
    o->dither = num_field(L, t, "dither", fn);
    o->rng = loom_getrng(L);
    o->energy_floor = num_field(L, t, "energy_floor", fn);
    o->raw_energy = bool_field(L, t, "raw_energy", fn);
    if (kind == LOOM_AUDIO_SPECTROGRAM)
        return;
    o->use_power = bool_field(L, t, "use_power", fn);
    o->use_log = bool_field(L, t, "use_log", fn);
    o->num_mel_bins = (size_t)num_field(L, t, "num_mel_bins", fn);
    o->low_freq = num_field(L, t, "low_freq", fn);
    o->high_freq = num_field(L, t, "high_freq", fn);
    o->use_energy = bool_field(L, t, "use_energy", fn);
    o->htk_compat = bool_field(L, t, "htk_compat", fn);
    if (kind == LOOM_AUDIO_MFCC) {
        o->num_ceps = (size_t)num_field(L, t, "num_ceps", fn);
        o->cepstral_lifter = num_field(L, t, "cepstral_lifter", fn);
    }
}

/* features(kind, x, channel, options) -> matrix (frames x features) */
static int l_features(lua_State *L)
{
    static const char *const kinds[] = {"spectrogram", "fbank", "mfcc", NULL};
    loom_audio_kind kind = (loom_audio_kind)luaL_checkoption(L, 1, NULL, kinds);
    const loom_matrix *x = &loom_checkmatrix(L, 2)->m;
    lua_Integer channel = luaL_checkinteger(L, 3);
    luaL_checktype(L, 4, LUA_TTABLE);
    char fn[48];
    snprintf(fn, sizeof fn, "loom.audio.%s", kinds[kind]);
    loom_audio_options o;
    read_options(L, 4, &o, kind, fn); /* may run Lua (metamethods): take x again */
    lua_settop(L, 4);
    x = &loom_recheck(L, 2, fn, "the signal")->m;
    if (channel < 1 || (size_t)channel > x->cols)
        return luaL_error(L, "loom.audio.%s: channel %I out of range for %I channels",
                          kinds[kind], channel, (lua_Integer)x->cols);
    size_t rows, cols;
    loom_status st = loom_audio_feature_shape(&rows, &cols, x->rows, kind, &o);
    if (st != LOOM_OK)
        return luaL_error(L, "loom.audio.%s: invalid options (%s)", kinds[kind], loom_strerror(st));
    /* One NaN or infinite sample would spread through a frame's FFT and come out as silence-like
     * features after the log floor: refuse it, saying where it is. */
    for (size_t i = 0; i < x->rows; i++) {
        double v = *loom_at(x, i, (size_t)channel - 1);
        if (!isfinite(v))
            return loom_error(L, "%s: sample %zu of channel %lld is %s", fn, i + 1,
                              (long long)channel, v != v ? "NaN" : "infinite");
    }
    Matrix *out = loom_newmatrix(L, rows, cols);
    x = &loom_recheck(L, 2, fn, "the signal")->m;
    const double *data = x->data ? x->data + (channel - 1) : NULL;
    st = loom_audio_features(&out->m, data, x->ld, x->rows, kind, &o);
    if (st != LOOM_OK)
        return luaL_error(L, "loom.audio.%s: %s", kinds[kind], loom_strerror(st));
    return 1;
}

/* deltas(feats, order, window) -> matrix T x F(order + 1) */
static int l_deltas(lua_State *L)
{
    const loom_matrix *f = &loom_checkmatrix(L, 1)->m;
    lua_Integer order = luaL_checkinteger(L, 2), window = luaL_checkinteger(L, 3);
    luaL_argcheck(L, order >= 0 && order <= 8, 2, "order must be in 0..8");
    luaL_argcheck(L, window >= 1 && window <= 1000, 3, "window must be in 1..1000");
    Matrix *out = loom_newmatrix(L, f->rows, f->cols * (size_t)(order + 1));
    loom_check(L, loom_audio_deltas(&out->m, f, (int)order, (int)window), "loom.audio.deltas");
    return 1;
}

/* cmvn(feats, norm_vars) -> matrix */
static int l_cmvn(lua_State *L)
{
    const loom_matrix *f = &loom_checkmatrix(L, 1)->m;
    int norm_vars = lua_toboolean(L, 2);
    Matrix *out = loom_newmatrix(L, f->rows, f->cols);
    loom_check(L, loom_audio_cmvn(&out->m, f, norm_vars), "loom.audio.cmvn");
    return 1;
}

/* warped_melbank(bins, padded, rate, low, high, alpha, vtln_low, vtln_high, speed) -> bins x padded/2+1 */
static int l_warped_melbank(lua_State *L)
{
    const char *fn = "loom.audio.warped_melbank";
    size_t bins = loom_checkdim(L, 1, fn, "bins"), padded = loom_checkdim(L, 2, fn, "padded length");
    double args[7];
    for (int i = 0; i < 7; i++)
        args[i] = luaL_checknumber(L, 3 + i);
    if (bins < 3 || padded < 2 || padded % 2 != 0 || bins > 4096 || padded > (1u << 20))
        return loom_error(L, "%s: need bins >= 3 and an even padded length >= 2, got %zu and %zu", fn, bins,
                          padded);
    Matrix *out = loom_newmatrix(L, bins, padded / 2 + 1);
    loom_status st = loom_audio_warped_melbank(&out->m, bins, padded, args[0], args[1], args[2], args[3],
                                               args[4], args[5], args[6]);
    if (st == LOOM_EARG)
        return loom_error(L, "%s: need alpha and speed in [0.5, 2] and 0 <= low_freq < vtln_low < vtln_high "
                             "< high_freq <= Nyquist, got alpha %g, speed %g, low %g, vtln_low %g, "
                             "vtln_high %g, high %g", fn, args[3], args[6], args[1], args[4], args[5], args[2]);
    loom_check(L, st, fn);
    return 1;
}

/* stretch(m, step) -> the rows of m read every `step` rows, linearly interpolated */
static int l_stretch(lua_State *L)
{
    const char *fn = "loom.audio.stretch";
    const loom_matrix *in = &loom_checkmatrix(L, 1)->m;
    double step = luaL_checknumber(L, 2);
    if (!(step >= 0.25 && step <= 4.0))
        return loom_error(L, "%s: step must be in [0.25, 4], got %g", fn, step);
    if (in->rows == 0)
        return loom_error(L, "%s: no rows to stretch", fn);
    Matrix *out = loom_newmatrix(L, loom_audio_stretched_rows(in->rows, step), in->cols);
    in = &loom_checkmatrix(L, 1)->m;
    loom_check(L, loom_audio_stretch(&out->m, in, step), fn);
    return 1;
}

/* window(name, n, blackman_coeff) -> n x 1 matrix */
static int l_window(lua_State *L)
{
    loom_audio_window w = (loom_audio_window)luaL_checkoption(L, 1, NULL, WINDOWS);
    size_t n = loom_checkdim(L, 2, "loom.audio.window", "n");
    double coeff = luaL_optnumber(L, 3, 0.42);
    Matrix *out = loom_newmatrix(L, n, 1);
    loom_audio_window_fill(out->m.data, n, w, coeff);
    return 1;
}

static int l_vtln_warp(lua_State *L)
{
    double a[6];
    for (int i = 0; i < 6; i++)
        a[i] = luaL_checknumber(L, i + 1);
    lua_pushnumber(L, loom_audio_vtln_warp(a[0], a[1], a[2], a[3], a[4], a[5]));
    return 1;
}

static int l_mel(lua_State *L)
{
    lua_pushnumber(L, loom_audio_mel(luaL_checknumber(L, 1)));
    return 1;
}

static int l_mel_inverse(lua_State *L)
{
    lua_pushnumber(L, loom_audio_mel_inverse(luaL_checknumber(L, 1)));
    return 1;
}

/* melbank(bins, padded_length, rate, low, high) -> bins x (padded / 2 + 1) dense weights */
static int l_melbank(lua_State *L)
{
    size_t bins = loom_checkdim(L, 1, "loom.audio.melbank", "bins");
    size_t padded = loom_checkdim(L, 2, "loom.audio.melbank", "padded length");
    double rate = luaL_checknumber(L, 3), low = luaL_checknumber(L, 4);
    double high = luaL_checknumber(L, 5);
    Matrix *out = loom_newmatrix(L, 0, 0); /* owns the weights below: raising never leaks */
    const char *fn = "loom.audio.melbank";
    double nyquist = 0.5 * rate, top = high <= 0.0 ? high + nyquist : high;
    if (bins < 3)
        return loom_error(L, "%s: bins must be >= 3, got %zu", fn, bins);
    if (padded < 2 || padded % 2 != 0)
        return loom_error(L, "%s: padded length must be even and >= 2, got %zu", fn, padded);
    if (!(rate > 0.0) || !isfinite(rate))
        return loom_error(L, "%s: rate must be a positive number of Hz, got %g", fn, rate);
    if (!(low >= 0.0 && low < nyquist))
        return loom_error(L, "%s: low_freq must be in [0, %g) (Nyquist), got %g", fn, nyquist, low);
    if (!(top > low && top <= nyquist))
        return loom_error(L, "%s: high_freq must give a top in (low_freq %g, %g] (Nyquist; <= 0 "
                             "counts down from it), got %g", fn, low, nyquist, high);
    loom_melbank bank;
    loom_status st = loom_melbank_init(&bank, bins, padded, rate, low, high);
    if (st != LOOM_OK)
        return luaL_error(L, "%s: %s", fn, loom_strerror(st));
    st = loom_matrix_init(&out->m, bins, bank.fft_bins);
    if (st == LOOM_OK)
        for (size_t b = 0; b < bins; b++)
            for (size_t k = 0; k < bank.width[b]; k++)
                *loom_at(&out->m, b, bank.first[b] + k) = bank.weight[bank.offset[b] + k];
    loom_melbank_release(&bank);
    loom_check(L, st, "loom.audio.melbank");
    return 1;
}

/* dct(ceps, bins) -> Kaldi's DCT matrix, ceps x bins */
static int l_dct(lua_State *L)
{
    size_t ceps = loom_checkdim(L, 1, "loom.audio.dct", "ceps");
    size_t bins = loom_checkdim(L, 2, "loom.audio.dct", "bins");
    if (ceps > bins || bins == 0)
        return luaL_error(L, "loom.audio.dct: need 1 <= ceps <= bins, got %I and %I",
                          (lua_Integer)ceps, (lua_Integer)bins);
    Matrix *out = loom_newmatrix(L, ceps, bins);
    loom_audio_dct_matrix(&out->m);
    return 1;
}

int loom_open_audio(lua_State *L)
{
    static const luaL_Reg functions[] = {
        {"read", l_read}, {"write", l_write}, {"resample", l_resample},
        {"features", l_features}, {"deltas", l_deltas}, {"cmvn", l_cmvn},
        {"window", l_window}, {"mel", l_mel}, {"mel_inverse", l_mel_inverse},
        {"melbank", l_melbank}, {"dct", l_dct}, {"warped_melbank", l_warped_melbank},
        {"stretch", l_stretch}, {"vtln_warp", l_vtln_warp}, {NULL, NULL}};
    lua_newtable(L);
    loom_setfuncs(L, functions);
    return 1;
}

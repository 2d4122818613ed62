// subword.cpp: the one C++ file of loom: sentencepiece's C++ API (libsentencepiece-dev)
// behind subword.h's C functions. No exception crosses into C: each entry point catches
// them all and returns a status. Not the model checks (subword_check.c), not Lua.
#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <cstdio>
#include <cstring>
#include <new>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "subword.h"

struct loom_spm {
    sentencepiece::SentencePieceProcessor processor;
};

namespace {

// The reason in one of the library's messages, without where it was raised
// ("./src/trainer_interface.cc(660) [condition] Vocabulary size too high ...").
const char *reason(const char *why)
{
    if (std::strncmp(why, "./src/", 6) == 0) {
        const char *end = std::strstr(why, "] ");
        if (end)
            return end + 2;
    }
    return why;
}

// The reason into msg; a message of the library that holds only where it was raised gives
// `otherwise` (its failed parse of a model file says nothing more).
loom_status fail(char *msg, size_t cap, loom_status st, const char *why,
                 const char *otherwise = "the sentencepiece library failed without saying why")
{
    const char *text = why ? reason(why) : "";
    if (msg && cap > 0)
        std::snprintf(msg, cap, "%s", *text ? text : otherwise);
    return st;
}

// A status the library returned, with its reason, or its code when it gave none.
loom_status fail_status(char *msg, size_t cap, loom_status st, const sentencepiece::util::Status &status,
                        const char *otherwise)
{
    return fail(msg, cap, st, status.error_message(), otherwise);
}

// The training sentences of a C array, one at a time, for the trainer.
class ArrayIterator : public sentencepiece::SentenceIterator {
  public:
    ArrayIterator(const char *const *sentences, const size_t *lens, size_t count)
        : sentences_(sentences), lens_(lens), count_(count)
    {
        Load();
    }
    bool done() const override { return at_ >= count_; }
    void Next() override
    {
        ++at_;
        Load();
    }
    const std::string &value() const override { return value_; }
    sentencepiece::util::Status status() const override { return {}; }

  private:
    void Load()
    {
        if (at_ < count_)
            value_.assign(sentences_[at_], lens_[at_]);
    }
    const char *const *sentences_;
    const size_t *lens_;
    size_t count_, at_ = 0;
    std::string value_;
};

// A copy of s in a new loom_malloc block with a NUL after it.
char *copy_out(const std::string &s)
{
    char *out = static_cast<char *>(loom_malloc(s.size() + 1));
    if (out) {
        s.copy(out, s.size());
        out[s.size()] = '\0';
    }
    return out;
}

} // namespace

extern "C" loom_status loom_spm_train(const char *const *keys, const char *const *values,
                                      size_t n_options, const char *const *sentences,
                                      const size_t *lens, size_t count, char *msg, size_t cap)
{
    try {
        std::unordered_map<std::string, std::string> options;
        for (size_t i = 0; i < n_options; i++)
            options[keys[i]] = values[i];
        ArrayIterator list(sentences, lens, count);
        auto status = sentencepiece::SentencePieceTrainer::Train(options, count > 0 ? &list : nullptr);
        if (!status.ok())
            return fail_status(msg, cap, LOOM_EARG, status, "the sentencepiece library refused it");
        return LOOM_OK;
    } catch (const std::bad_alloc &) {
        return fail(msg, cap, LOOM_ENOMEM, "not enough memory");
    } catch (const std::exception &e) {
        return fail(msg, cap, LOOM_EARG, e.what());
    } catch (...) {
        return fail(msg, cap, LOOM_EARG, "the sentencepiece trainer failed");
    }
}

extern "C" loom_spm *loom_spm_load(const void *bytes, size_t len, loom_status *status, char *msg,
                                   size_t cap)
{
    *status = loom_spm_check_model(bytes, len, msg, cap);
    if (*status != LOOM_OK)
        return nullptr;
    void *block = loom_malloc(sizeof(loom_spm));
    if (!block) {
        *status = fail(msg, cap, LOOM_ENOMEM, "not enough memory");
        return nullptr;
    }
    loom_spm *sp = nullptr;
    try {
        sp = new (block) loom_spm;
        auto st = sp->processor.LoadFromSerializedProto(
            std::string_view(static_cast<const char *>(bytes), len));
        // The library accepts a vocabulary whose unknown piece is missing or out of range,
        // and PieceToId would then return that id for every unknown piece (found by
        // tests/fuzz/fuzz_subword.c).
        int size = st.ok() ? sp->processor.GetPieceSize() : 0, unk = st.ok() ? sp->processor.unk_id() : -1;
        if (st.ok() && size > 0 && unk >= 0 && unk < size)
            return sp;
        if (st.ok()) {
            char why[96];
            std::snprintf(why, sizeof why, "not a sentencepiece model (its unknown piece has id %d of %d pieces)",
                          unk, size);
            *status = fail(msg, cap, LOOM_EFORMAT, why);
        } else {
            *status = fail_status(msg, cap, LOOM_EFORMAT, st, "not a sentencepiece model (the library cannot parse it)");
        }
    } catch (const std::bad_alloc &) {
        *status = fail(msg, cap, LOOM_ENOMEM, "not enough memory");
    } catch (const std::exception &e) {
        *status = fail(msg, cap, LOOM_EFORMAT, e.what());
    } catch (...) {
        *status = fail(msg, cap, LOOM_EFORMAT, "the sentencepiece library could not read it");
    }
    loom_spm_free(sp);
    if (!sp)
        loom_free(block);
    return nullptr;
}

extern "C" void loom_spm_free(loom_spm *sp)
{
    if (!sp)
        return;
    sp->~loom_spm();
    loom_free(sp);
}

extern "C" size_t loom_spm_size(const loom_spm *sp)
{
    return static_cast<size_t>(sp->processor.GetPieceSize());
}

extern "C" const char *loom_spm_piece(const loom_spm *sp, size_t id, size_t *len)
{
    if (id >= loom_spm_size(sp))
        return nullptr;
    const std::string &piece = sp->processor.IdToPiece(static_cast<int>(id));
    *len = piece.size();
    return piece.c_str();
}

extern "C" size_t loom_spm_piece_id(const loom_spm *sp, const char *piece, size_t len)
{
    return static_cast<size_t>(sp->processor.PieceToId(std::string_view(piece, len)));
}

extern "C" size_t loom_spm_unk_id(const loom_spm *sp)
{
    return static_cast<size_t>(sp->processor.unk_id());
}

extern "C" void loom_spm_segments_free(loom_spm_segments *s)
{
    loom_free(s->ids);
    loom_free(s->offsets);
    loom_free(s->text);
    *s = loom_spm_segments{};
}

extern "C" loom_status loom_spm_encode(const loom_spm *sp, const char *text, size_t len,
                                       loom_spm_segments *out, char *msg, size_t cap)
{
    *out = loom_spm_segments{};
    try {
        sentencepiece::ImmutableSentencePieceText spt;
        auto status = sp->processor.Encode(std::string_view(text, len), spt.mutable_proto());
        if (!status.ok())
            return fail_status(msg, cap, LOOM_EARG, status, "the sentencepiece library refused it");
        size_t n = spt.pieces_size(), bytes = 0;
        for (size_t i = 0; i < n; i++)
            bytes += spt.pieces(static_cast<int>(i)).piece().size();
        out->ids = static_cast<uint32_t *>(loom_malloc(sizeof(uint32_t) * (n + 1)));
        out->offsets = static_cast<size_t *>(loom_malloc(sizeof(size_t) * (n + 1)));
        out->text = static_cast<char *>(loom_malloc(bytes + 1));
        if (!out->ids || !out->offsets || !out->text) {
            loom_spm_segments_free(out);
            return fail(msg, cap, LOOM_ENOMEM, "not enough memory");
        }
        size_t at = 0;
        for (size_t i = 0; i < n; i++) {
            auto piece = spt.pieces(static_cast<int>(i));
            out->ids[i] = piece.id();
            out->offsets[i] = at;
            at += piece.piece().copy(out->text + at, piece.piece().size());
        }
        out->offsets[n] = at;
        out->text[at] = '\0';
        out->n = n;
        return LOOM_OK;
    } catch (const std::bad_alloc &) {
        loom_spm_segments_free(out);
        return fail(msg, cap, LOOM_ENOMEM, "not enough memory");
    } catch (...) {
        loom_spm_segments_free(out);
        return fail(msg, cap, LOOM_EARG, "the sentencepiece library failed to encode");
    }
}

extern "C" loom_status loom_spm_decode(const loom_spm *sp, const uint32_t *ids, size_t n,
                                       char **out, size_t *len, char *msg, size_t cap)
{
    *out = nullptr;
    *len = 0;
    size_t size = loom_spm_size(sp);
    for (size_t i = 0; i < n; i++) {
        if (ids[i] >= size) {
            char why[96];
            std::snprintf(why, sizeof why, "id %u is not below the vocabulary size %zu", ids[i], size);
            return fail(msg, cap, LOOM_EARG, why);
        }
    }
    try {
        std::vector<int> list(ids, ids + n);
        std::string text;
        auto status = sp->processor.Decode(list, &text);
        if (!status.ok())
            return fail_status(msg, cap, LOOM_EARG, status, "the sentencepiece library refused it");
        *out = copy_out(text);
        if (!*out)
            return fail(msg, cap, LOOM_ENOMEM, "not enough memory");
        *len = text.size();
        return LOOM_OK;
    } catch (const std::bad_alloc &) {
        return fail(msg, cap, LOOM_ENOMEM, "not enough memory");
    } catch (...) {
        return fail(msg, cap, LOOM_EARG, "the sentencepiece library failed to decode");
    }
}

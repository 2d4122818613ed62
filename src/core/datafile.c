/* datafile.c: checksums and downloads for the dataset registry, on OpenSSL's libcrypto and
 * libcurl. Not a parser of any data format. */
#include "datafile.h"

#include <curl/curl.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

loom_status loom_sha256_file(const char *path, char hex[65], char *error, size_t error_size)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(error, error_size, "cannot open: %s", strerror(errno));
        return LOOM_EIO;
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        fclose(f);
        snprintf(error, error_size, "not enough memory");
        return LOOM_ENOMEM;
    }
    unsigned char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        EVP_DigestUpdate(ctx, buf, n);
    int failed = ferror(f);
    fclose(f);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    EVP_DigestFinal_ex(ctx, digest, &digest_len);
    EVP_MD_CTX_free(ctx);
    if (failed) {
        snprintf(error, error_size, "read error");
        return LOOM_EIO;
    }
    for (unsigned int i = 0; i < digest_len && i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    hex[64] = '\0';
    return LOOM_OK;
}

struct loom_fetcher {
    CURL *curl;
};

loom_fetcher *loom_fetcher_new(void)
{
    static int initialised = 0;
    if (!initialised) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            return NULL;
        initialised = 1;
    }
    loom_fetcher *f = loom_malloc(sizeof *f);
    if (!f)
        return NULL;
    f->curl = curl_easy_init();
    if (!f->curl) {
        loom_free(f);
        return NULL;
    }
    return f;
}

void loom_fetcher_free(loom_fetcher *f)
{
    if (!f)
        return;
    curl_easy_cleanup(f->curl);
    loom_free(f);
}

loom_status loom_fetcher_get(loom_fetcher *f, const char *url, const char *dest,
                             long timeout_seconds, size_t *bytes, char *error, size_t error_size)
{
    *bytes = 0;
    FILE *out = fopen(dest, "wb");
    if (!out) {
        snprintf(error, error_size, "cannot write %s: %s", dest, strerror(errno));
        return LOOM_EIO;
    }
    char curl_error[CURL_ERROR_SIZE] = "";
    CURL *c = f->curl;
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_error);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "loom-data-fetch");
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, timeout_seconds);
    /* No progress for timeout_seconds (below 1 byte/s) ends the transfer. */
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, timeout_seconds);
    CURLcode rc = curl_easy_perform(c);
    long written = ftell(out);
    int close_failed = fclose(out) != 0;
    if (rc != CURLE_OK) {
        snprintf(error, error_size, "%s", curl_error[0] ? curl_error : curl_easy_strerror(rc));
        return LOOM_EIO;
    }
    if (close_failed || written < 0) {
        snprintf(error, error_size, "cannot write %s: %s", dest, strerror(errno));
        return LOOM_EIO;
    }
    *bytes = (size_t)written;
    return LOOM_OK;
}

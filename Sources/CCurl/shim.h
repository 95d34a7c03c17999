// libcurl (Debian's libcurl4-openssl-dev) for the S3 transport. curl_easy_setopt and
// curl_easy_getinfo are variadic, which Swift cannot call, so each argument type gets a typed
// inline wrapper here; everything else is libcurl's own.
#ifndef C_ALLOT_CURL_H
#define C_ALLOT_CURL_H

#include <curl/curl.h>

typedef size_t (*allot_curl_data_callback)(char *data, size_t size, size_t count, void *context);
typedef int (*allot_curl_progress_callback)(void *context, curl_off_t download_total, curl_off_t downloaded,
                                            curl_off_t upload_total, curl_off_t uploaded);

static inline CURLcode allot_curl_set_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode allot_curl_set_offset(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode allot_curl_set_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode allot_curl_set_pointer(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode allot_curl_set_list(CURL *handle, CURLoption option, struct curl_slist *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode allot_curl_set_data_callback(CURL *handle, CURLoption option, allot_curl_data_callback value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode allot_curl_set_progress_callback(CURL *handle, allot_curl_progress_callback value) {
    return curl_easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, value);
}

static inline CURLcode allot_curl_response_code(CURL *handle, long *code) {
    return curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, code);
}

#endif

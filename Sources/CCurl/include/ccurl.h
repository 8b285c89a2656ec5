#ifndef VXT_CCURL_H
#define VXT_CCURL_H
// Typed wrappers around libcurl's variadic setopt/getinfo calls, which Swift cannot call.
#include <curl/curl.h>

typedef size_t (*vxt_curl_data_cb)(char *ptr, size_t size, size_t nmemb, void *userdata);
typedef int (*vxt_curl_socket_cb)(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp);
typedef int (*vxt_curl_timer_cb)(CURLM *multi, long timeout_ms, void *userp);

CURLcode vxt_easy_setopt_long(CURL *easy, CURLoption option, long value);
CURLcode vxt_easy_setopt_pointer(CURL *easy, CURLoption option, const void *value);
CURLcode vxt_easy_setopt_offset(CURL *easy, CURLoption option, curl_off_t value);
CURLcode vxt_easy_setopt_data_callback(CURL *easy, CURLoption option, vxt_curl_data_cb callback);
typedef int (*vxt_curl_seek_cb)(void *userp, curl_off_t offset, int origin);
CURLcode vxt_easy_setopt_seek_callback(CURL *easy, vxt_curl_seek_cb callback);

CURLcode vxt_easy_getinfo_long(CURL *easy, CURLINFO info, long *value);
CURLcode vxt_easy_getinfo_pointer(CURL *easy, CURLINFO info, void **value);

CURLMcode vxt_multi_setopt_long(CURLM *multi, CURLMoption option, long value);
CURLMcode vxt_multi_setopt_pointer(CURLM *multi, CURLMoption option, void *value);
CURLMcode vxt_multi_setopt_socket_callback(CURLM *multi, vxt_curl_socket_cb callback);
CURLMcode vxt_multi_setopt_timer_callback(CURLM *multi, vxt_curl_timer_cb callback);

// epoll and eventfd for the I/O thread (epoll_event is a packed struct on x86-64, which
// is why these stay in C).
int vxt_epoll_create(void);
int vxt_epoll_set(int epfd, int fd, int want_read, int want_write, int already_added);
int vxt_epoll_remove(int epfd, int fd);
/// Waits for events; fills fds[i] and flags[i] (bit 0 readable, bit 1 writable, bit 2 error).
int vxt_epoll_wait(int epfd, int *fds, int *flags, int max, int timeout_ms);
int vxt_eventfd_create(void);
void vxt_eventfd_signal(int fd);
void vxt_eventfd_drain(int fd);
/// Raises the soft open-file limit to the hard limit; returns the new soft limit.
long vxt_raise_nofile_limit(void);
/// At most `arenas` glibc malloc arenas (nothing elsewhere); see `CurlHTTPClient.init`.
void vxt_limit_malloc_arenas(int arenas);
/// Returns whole free pages inside malloc's heaps to the kernel (glibc's malloc_trim(0); nothing
/// elsewhere); 1 when some were returned. See `CurlHTTPClient.trimInterval`.
int vxt_release_free_memory(void);

#endif

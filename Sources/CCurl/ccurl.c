#include "ccurl.h"

CURLcode vxt_easy_setopt_long(CURL *easy, CURLoption option, long value) { return curl_easy_setopt(easy, option, value); }
CURLcode vxt_easy_setopt_pointer(CURL *easy, CURLoption option, const void *value) { return curl_easy_setopt(easy, option, value); }
CURLcode vxt_easy_setopt_offset(CURL *easy, CURLoption option, curl_off_t value) { return curl_easy_setopt(easy, option, value); }
CURLcode vxt_easy_setopt_data_callback(CURL *easy, CURLoption option, vxt_curl_data_cb callback) { return curl_easy_setopt(easy, option, callback); }
CURLcode vxt_easy_setopt_seek_callback(CURL *easy, vxt_curl_seek_cb callback) { return curl_easy_setopt(easy, CURLOPT_SEEKFUNCTION, callback); }

CURLcode vxt_easy_getinfo_long(CURL *easy, CURLINFO info, long *value) { return curl_easy_getinfo(easy, info, value); }
CURLcode vxt_easy_getinfo_pointer(CURL *easy, CURLINFO info, void **value) { return curl_easy_getinfo(easy, info, value); }

CURLMcode vxt_multi_setopt_long(CURLM *multi, CURLMoption option, long value) { return curl_multi_setopt(multi, option, value); }
CURLMcode vxt_multi_setopt_pointer(CURLM *multi, CURLMoption option, void *value) { return curl_multi_setopt(multi, option, value); }
CURLMcode vxt_multi_setopt_socket_callback(CURLM *multi, vxt_curl_socket_cb callback) { return curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, callback); }
CURLMcode vxt_multi_setopt_timer_callback(CURLM *multi, vxt_curl_timer_cb callback) { return curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, callback); }

#ifdef __linux__
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>
#include <errno.h>

int vxt_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int vxt_epoll_set(int epfd, int fd, int want_read, int want_write, int already_added) {
    struct epoll_event ev;
    ev.events = (want_read ? EPOLLIN : 0) | (want_write ? EPOLLOUT : 0);
    ev.data.fd = fd;
    int rc = epoll_ctl(epfd, already_added ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev);
    if (rc != 0 && errno == EEXIST) rc = epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev);
    if (rc != 0 && errno == ENOENT) rc = epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
    return rc;
}

int vxt_epoll_remove(int epfd, int fd) { return epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL); }

int vxt_epoll_wait(int epfd, int *fds, int *flags, int max, int timeout_ms) {
    struct epoll_event events[1024];
    if (max > 1024) max = 1024;
    int n = epoll_wait(epfd, events, max, timeout_ms);
    for (int i = 0; i < n; i++) {
        fds[i] = events[i].data.fd;
        flags[i] = ((events[i].events & EPOLLIN) ? 1 : 0) | ((events[i].events & EPOLLOUT) ? 2 : 0)
                 | ((events[i].events & (EPOLLERR | EPOLLHUP)) ? 4 : 0);
    }
    return n;
}

int vxt_eventfd_create(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }
void vxt_eventfd_signal(int fd) { uint64_t one = 1; ssize_t rc = write(fd, &one, sizeof(one)); (void)rc; }
void vxt_eventfd_drain(int fd) { uint64_t value; ssize_t rc = read(fd, &value, sizeof(value)); (void)rc; }

#ifdef __GLIBC__
#include <malloc.h>
void vxt_limit_malloc_arenas(int arenas) { mallopt(M_ARENA_MAX, arenas); }
int vxt_release_free_memory(void) { return malloc_trim(0); }
#else
void vxt_limit_malloc_arenas(int arenas) { (void)arenas; }
int vxt_release_free_memory(void) { return 0; }
#endif

long vxt_raise_nofile_limit(void) {
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return -1;
    if (limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
        getrlimit(RLIMIT_NOFILE, &limit);
    }
    return (long)limit.rlim_cur;
}
#endif

// The Linux calls and constants the HTTP engine needs that Glibc's Swift module does not export:
// epoll, eventfd, GNU accept4, pthread_setname_np and RLIMIT_NOFILE handling; and malloc_trim,
// with which the edge server returns free memory after loading a bundle. Header-only; the
// functions are glibc's own. The structures (struct epoll_event, packed on x86-64) come from the
// system headers, so Swift sees their real layout.
#ifndef C_ALLOT_LINUX_H
#define C_ALLOT_LINUX_H

#ifdef __linux__
#include <stdint.h>
#include <malloc.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/mman.h>
#include <sys/socket.h>

// GNU extensions, declared only under _GNU_SOURCE, which Swift's Glibc module is built without.
// These are the declarations glibc's headers make.
extern int accept4(int fd, struct sockaddr *address, socklen_t *length, int flags);
extern int pthread_setname_np(pthread_t thread, const char *name);
extern void *mremap(void *address, size_t oldLength, size_t newLength, int flags, ...);

// Grows or shrinks an anonymous mapping, moving it if needed (mremap is variadic, which Swift
// cannot call). Returns MAP_FAILED on failure.
static inline void *CAllotLinux_mremap(void *address, size_t oldLength, size_t newLength) {
    return mremap(address, oldLength, newLength, 1 /* MREMAP_MAYMOVE */);
}

// Event bits, as the uint32_t `epoll_event.events` holds them.
static const uint32_t CAllotLinux_EPOLLIN = EPOLLIN;
static const uint32_t CAllotLinux_EPOLLOUT = EPOLLOUT;
static const uint32_t CAllotLinux_EPOLLERR = EPOLLERR;
static const uint32_t CAllotLinux_EPOLLHUP = EPOLLHUP;
static const uint32_t CAllotLinux_EPOLLRDHUP = EPOLLRDHUP;
static const uint32_t CAllotLinux_EPOLLEXCLUSIVE = EPOLLEXCLUSIVE;

// epoll_ctl operations.
static const int CAllotLinux_EPOLL_CTL_ADD = EPOLL_CTL_ADD;
static const int CAllotLinux_EPOLL_CTL_MOD = EPOLL_CTL_MOD;
static const int CAllotLinux_EPOLL_CTL_DEL = EPOLL_CTL_DEL;

// Creation flags.
static const int CAllotLinux_EPOLL_CLOEXEC = EPOLL_CLOEXEC;
static const int CAllotLinux_EFD_CLOEXEC = EFD_CLOEXEC;
static const int CAllotLinux_EFD_NONBLOCK = EFD_NONBLOCK;
static const int CAllotLinux_SOCK_CLOEXEC = SOCK_CLOEXEC;
static const int CAllotLinux_SOCK_NONBLOCK = SOCK_NONBLOCK;

// The descriptor limit, as an int for getrlimit/setrlimit (its enum type differs by C library).
static const int CAllotLinux_RLIMIT_NOFILE = RLIMIT_NOFILE;
#endif

#endif

#define _GNU_SOURCE
#include "CHALBLinux.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

const uint32_t CHALB_EPOLLIN = EPOLLIN;
const uint32_t CHALB_EPOLLOUT = EPOLLOUT;
const uint32_t CHALB_EPOLLERR = EPOLLERR;
const uint32_t CHALB_EPOLLHUP = EPOLLHUP;
const uint32_t CHALB_EPOLLRDHUP = EPOLLRDHUP;
const uint32_t CHALB_EPOLLPRI = EPOLLPRI;
const uint32_t CHALB_EPOLLET = EPOLLET;
const uint32_t CHALB_EPOLLEXCLUSIVE = EPOLLEXCLUSIVE;

int chalb_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int chalb_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t token) {
    struct epoll_event event = {.events = events, .data = {.u64 = token}};
    int ops[] = {EPOLL_CTL_ADD, EPOLL_CTL_MOD, EPOLL_CTL_DEL};
    return epoll_ctl(epfd, ops[op], fd, &event);
}

int chalb_epoll_wait(int epfd, chalb_event *out, int max, int timeout) {
    struct epoll_event events[256];
    if (max > 256) max = 256;
    int count = epoll_wait(epfd, events, max, timeout);
    for (int i = 0; i < count; i++) {
        out[i].events = events[i].events;
        out[i].token = events[i].data.u64;
    }
    return count;
}

int chalb_eventfd(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }

int chalb_pipe(int fds[2]) { return pipe2(fds, O_NONBLOCK | O_CLOEXEC); }

int chalb_set_pipe_size(int fd, int size) { return fcntl(fd, F_SETPIPE_SZ, size); }

int chalb_accept(int fd, struct sockaddr_storage *address, socklen_t *length) {
    return accept4(fd, (struct sockaddr *)address, length, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

int chalb_stream_socket(int family) { return socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0); }

ssize_t chalb_splice(int from, int to, size_t length) {
    return splice(from, NULL, to, NULL, length, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
}

ssize_t chalb_send(int fd, const void *bytes, size_t length) { return send(fd, bytes, length, MSG_NOSIGNAL); }

int64_t chalb_now(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

int chalb_socket_error(int fd) {
    int error = 0;
    socklen_t length = sizeof(error);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) return errno;
    return error;
}

int chalb_set_int_option(int fd, int level, int name, int value) {
    return setsockopt(fd, level, name, &value, sizeof(value));
}

int chalb_pidfd_open(pid_t pid) { return (int)syscall(SYS_pidfd_open, pid, 0); }

int chalb_fd_identity(int fd, unsigned long long *device, unsigned long long *inode) {
    struct stat status;
    if (fstat(fd, &status) != 0) return -1;
    *device = (unsigned long long)status.st_dev;
    *inode = (unsigned long long)status.st_ino;
    return 0;
}

int chalb_enter_network_namespace(int fd) { return setns(fd, CLONE_NEWNET); }

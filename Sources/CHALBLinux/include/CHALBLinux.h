// Thin wrappers over the Linux calls of HALB's own relay (epoll, eventfd, splice, pipe2, accept4), which Swift's
// Glibc module does not import.
#ifndef CHALB_LINUX_H
#define CHALB_LINUX_H

#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>

/// One readiness event: what happened and the token the descriptor was registered with.
typedef struct {
    uint32_t events;
    uint64_t token;
} chalb_event;

extern const uint32_t CHALB_EPOLLIN;
extern const uint32_t CHALB_EPOLLOUT;
extern const uint32_t CHALB_EPOLLERR;
extern const uint32_t CHALB_EPOLLHUP;
extern const uint32_t CHALB_EPOLLRDHUP;
extern const uint32_t CHALB_EPOLLPRI;
extern const uint32_t CHALB_EPOLLET;
extern const uint32_t CHALB_EPOLLEXCLUSIVE;

int chalb_epoll_create(void);
/// Adds (`op` 0), changes (1) or removes (2) `fd` in the interest set.
int chalb_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t token);
/// Waits up to `timeout` ms (-1: no limit); fills `out` with at most `max` events.
int chalb_epoll_wait(int epfd, chalb_event *out, int max, int timeout);

int chalb_eventfd(void);
int chalb_pipe(int fds[2]);
/// F_SETPIPE_SZ: returns the new size, or -1.
int chalb_set_pipe_size(int fd, int size);
int chalb_accept(int fd, struct sockaddr_storage *address, socklen_t *length);
int chalb_stream_socket(int family);
/// splice(2) without blocking, moving pages where it can.
ssize_t chalb_splice(int from, int to, size_t length);
ssize_t chalb_send(int fd, const void *bytes, size_t length);
/// Monotonic time in nanoseconds.
int64_t chalb_now(void);
/// pidfd_open(2): a descriptor that becomes readable when process `pid` exits; -1 on error.
int chalb_pidfd_open(pid_t pid);

/// setns(2) into the network namespace open as `fd`, for the calling thread only; -1 on error. (The tests use it to
/// look at interfaces from inside a namespace whose sysfs they do not see.)
int chalb_enter_network_namespace(int fd);

/// The device and inode of the file open as `fd` (fstat(2)), as systemd's JOURNAL_STREAM names them; -1 on error.
int chalb_fd_identity(int fd, unsigned long long *device, unsigned long long *inode);
int chalb_socket_error(int fd);
int chalb_set_int_option(int fd, int level, int name, int value);

#endif

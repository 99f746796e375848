/*
 * Starting a process in a new user namespace (or entering an existing one) from minidocker, a multithreaded .NET
 * process. unshare(CLONE_NEWUSER) and setns() into a user namespace refuse a multithreaded caller (EINVAL), but
 * clone3(CLONE_NEWUSER | ...) does not: the child is a copy of the calling thread alone. Until it execs, the child
 * runs only this C code and raw system calls (no glibc wrapper that takes a lock or walks glibc's thread list: the
 * copied list names threads that do not exist in the child; glibc's setresuid would signal them and wait forever).
 *
 * The child, in order:
 *   1. signals back to default, mask cleared (.NET ignores SIGPIPE, and ignored stays ignored across execve);
 *   2. its fds moved to the numbers the program expects (pairs from -> to), every other fd closed (go_fd and
 *      enter_userns are numbers after the move);
 *   3. waits for one byte 'M' on go_fd: the parent writes uid_map/gid_map (as root, from outside) and prepares the
 *      mounts that need host privileges, then says go. EOF (the parent died) or another byte ends the child;
 *   4. opens the executable (before any identity change: the path may not be searchable by the mapped ids);
 *   5. enter_userns >= 0: setns into that user namespace (exec into a running container);
 *   6. mode KEEP_HOST_ID: stays host uid 0, which owns the state directories, with every capability of the new user
 *      namespace made ambient so that execve keeps them (an unmapped euid is not root there, and execve would clear
 *      them); the init becomes the namespace's root itself once it has opened what it needs from the host.
 *      mode BECOME_ROOT: setgroups([]), setresgid(0), setresuid(0) in the namespace;
 *   7. execveat(the executable), which ends the copied address space.
 * A failure exits the child with 125 + a line on stderr naming the step; the parent sees the exit status.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/mount.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MODE_KEEP_HOST_ID 1
#define MODE_BECOME_ROOT 2

static __attribute__((noreturn)) void child_fail(const char *step)
{
    static const char prefix[] = "minidocker: user namespace child: ";
    int e = errno;
    syscall(SYS_write, 2, prefix, sizeof prefix - 1);
    syscall(SYS_write, 2, step, strlen(step));
    const char *reason = strerror(e); /* a table lookup for known numbers */
    syscall(SYS_write, 2, ": ", 2);
    syscall(SYS_write, 2, reason, strlen(reason));
    syscall(SYS_write, 2, "\n", 1);
    syscall(SYS_exit_group, 125);
    __builtin_unreachable();
}

static int make_capabilities_ambient(void)
{
    struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
    struct __user_cap_data_struct data[2];
    if (syscall(SYS_capget, &header, data) != 0) return -1;
    data[0].inheritable = data[0].permitted;
    data[1].inheritable = data[1].permitted;
    if (syscall(SYS_capset, &header, data) != 0) return -1;
    for (int cap = 0; cap < 64; cap++)
    {
        if (!(data[cap / 32].permitted & (1u << (cap % 32)))) continue;
        if (syscall(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) != 0 && errno != EINVAL) return -1;
    }
    return 0;
}

static __attribute__((noreturn)) void child(int go_fd, int enter_userns, int mode, const char *exe,
    char *const argv[], char *const envp[], const int *fd_from, const int *fd_to, int nfds)
{
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < 65; sig++)
        if (sig != SIGKILL && sig != SIGSTOP) syscall(SYS_rt_sigaction, sig, &dfl, NULL, 8);
    uint64_t empty = 0;
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &empty, NULL, 8);

    /* Sources that are also targets would be overwritten before they are copied: move every source above the
       highest target first (CLOEXEC copies), then dup2, which clears CLOEXEC on the target. */
    int top = 2;
    for (int i = 0; i < nfds; i++) if (fd_to[i] > top) top = fd_to[i];
    int moved[16];
    if (nfds > 16) { errno = E2BIG; child_fail("fd map"); }
    for (int i = 0; i < nfds; i++)
        if ((moved[i] = (int)syscall(SYS_fcntl, fd_from[i], F_DUPFD_CLOEXEC, top + 1)) < 0) child_fail("fcntl(F_DUPFD_CLOEXEC)");
    for (int i = 0; i < nfds; i++)
        if (syscall(SYS_dup3, moved[i], fd_to[i], 0) < 0) child_fail("dup3");
    /* Nothing else of the parent's stays open while the child waits: a copy of the command pipe's write end would
       keep the wait below from ever seeing EOF when the parent dies. go_fd and enter_userns are targets. */
    for (int fd = 3; fd <= top; fd++)
    {
        int wanted = 0;
        for (int i = 0; i < nfds; i++) if (fd_to[i] == fd) wanted = 1;
        if (!wanted) syscall(SYS_close, fd);
    }
    if (syscall(SYS_close_range, top + 1, ~0U, 0) != 0) child_fail("close_range");

    if (go_fd >= 0)
    {
        char go = 0;
        long n;
        while ((n = syscall(SYS_read, go_fd, &go, 1)) < 0 && errno == EINTR) { }
        if (n != 1 || go != 'M') syscall(SYS_exit_group, 125); /* the parent gave up: quietly */
    }

    int exe_fd = (int)syscall(SYS_openat, AT_FDCWD, exe, O_PATH | O_CLOEXEC);
    if (exe_fd < 0) child_fail("open(executable)");
    if (enter_userns >= 0)
    {
        /* A pidfd or /proc/PID/ns/user; left open: exec's init joins the mount namespace through the same pidfd. */
        if (syscall(SYS_setns, enter_userns, CLONE_NEWUSER) != 0) child_fail("setns(user)");
    }
    if (mode == MODE_KEEP_HOST_ID)
    {
        if (make_capabilities_ambient() != 0) child_fail("ambient capabilities");
    }
    else if (mode == MODE_BECOME_ROOT)
    {
        if (syscall(SYS_setgroups, 0, NULL) != 0) child_fail("setgroups");
        if (syscall(SYS_setresgid, 0, 0, 0) != 0) child_fail("setresgid(0)");
        if (syscall(SYS_setresuid, 0, 0, 0) != 0) child_fail("setresuid(0)");
    }
    syscall(SYS_execveat, exe_fd, "", argv, envp, AT_EMPTY_PATH);
    child_fail("execveat");
}

/*
 * Returns the child's pid, or -errno when clone3 failed. clone_flags are CLONE_NEW* flags (CLONE_NEWUSER among them
 * for a new container; none for exec, which joined the other namespaces on the calling thread).
 */
int minidocker_userns_spawn(uint64_t clone_flags, int go_fd, int enter_userns, int mode, const char *exe,
    char *const argv[], char *const envp[], const int *fd_from, const int *fd_to, int nfds)
{
    struct clone_args args;
    memset(&args, 0, sizeof args);
    args.flags = clone_flags;
    args.exit_signal = SIGCHLD;
    long pid = syscall(SYS_clone3, &args, sizeof args);
    if (pid < 0) return -errno;
    if (pid == 0) child(go_fd, enter_userns, mode, exe, argv, envp, fd_from, fd_to, nfds);
    return (int)pid;
}

/*
 * An idmapped copy of the directory tree at source (an image layer, owned by host ids) attached at target in the
 * calling thread's mount namespace: open_tree(OPEN_TREE_CLONE) makes a detached copy of the mount, mount_setattr
 * (MOUNT_ATTR_IDMAP) maps its ids through userns_fd's mapping (host 0 shows as the container's 0 = host HostUid), and
 * move_mount attaches it. Nothing on disk changes. Returns 0 or -errno, with the failed step in *step.
 */
int minidocker_idmapped_mount(const char *source, int userns_fd, const char *target, const char **step)
{
    int tree = (int)syscall(SYS_open_tree, AT_FDCWD, source, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
    if (tree < 0) { *step = "open_tree"; return -errno; }
    struct mount_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.attr_set = MOUNT_ATTR_IDMAP;
    attr.userns_fd = (uint64_t)userns_fd;
    int result = 0;
    if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &attr, sizeof attr) != 0) { *step = "mount_setattr(MOUNT_ATTR_IDMAP)"; result = -errno; }
    else if (syscall(SYS_move_mount, tree, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) != 0) { *step = "move_mount"; result = -errno; }
    syscall(SYS_close, tree);
    return result;
}

/*
 * The init of a --userns=auto container got every capability as ambient (and so inheritable) to survive its own
 * execve: both sets are emptied before the user's program is executed, or execve would hand root the inheritable set
 * whatever the bounding set says. Capabilities are per thread: call on the thread that executes the program.
 */
int minidocker_clear_inherited_capabilities(void)
{
    if (syscall(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) return -errno;
    struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
    struct __user_cap_data_struct data[2];
    if (syscall(SYS_capget, &header, data) != 0) return -errno;
    data[0].inheritable = 0;
    data[1].inheritable = 0;
    if (syscall(SYS_capset, &header, data) != 0) return -errno;
    return 0;
}

using System.Runtime.InteropServices;

namespace MiniDocker.Runtime.Native;

/// <summary>
/// The libc calls the runtime makes, declared with source-generated marshalling (AOT-clean).
/// Every call reports failure through <see cref="SyscallException"/> via <see cref="Check"/>;
/// errno is read with Marshal.GetLastPInvokeError right after the call.
/// </summary>
internal static unsafe partial class Libc
{
    private const string Lib = "libc";

    public const int CLONE_NEWNS = 0x00020000, CLONE_NEWCGROUP = 0x02000000, CLONE_NEWUTS = 0x04000000,
        CLONE_NEWIPC = 0x08000000, CLONE_NEWNET = 0x40000000, CLONE_NEWPID = 0x20000000, CLONE_FS = 0x00000200;

    public const ulong MS_RDONLY = 1, MS_NOSUID = 2, MS_NODEV = 4, MS_NOEXEC = 8, MS_REMOUNT = 32, MS_BIND = 4096,
        MS_REC = 16384, MS_PRIVATE = 1 << 18, MS_SLAVE = 1 << 19, MS_STRICTATIME = 1 << 24;
    public const int MNT_DETACH = 2;

    public const int O_RDONLY = 0, O_WRONLY = 1, O_RDWR = 2, O_CREAT = 0x40, O_NOCTTY = 0x100, O_TRUNC = 0x200,
        O_DIRECTORY = 0x10000, O_NOFOLLOW = 0x20000, O_CLOEXEC = 0x80000, O_PATH = 0x200000;
    public const int F_GETFD = 1, F_SETFD = 2, FD_CLOEXEC = 1, F_DUPFD_CLOEXEC = 1030;
    public const int S_IFCHR = 0x2000;
    public const int WNOHANG = 1;
    public const int SIGKILL = 9, SIGTERM = 15, SIGINT = 2, SIGWINCH = 28;
    public const int LOCK_SH = 1, LOCK_EX = 2, LOCK_NB = 4, LOCK_UN = 8;
    public const uint TIOCSCTTY = 0x540E, TIOCGWINSZ = 0x5413, TIOCSWINSZ = 0x5414, TIOCGPTN = 0x80045430,
        TIOCSPTLCK = 0x40045431;
    public const long SYS_pivot_root = 155, SYS_close_range = 436, SYS_pidfd_send_signal = 424, SYS_pidfd_open = 434;
    public const int ESRCH = 3, EINTR = 4, EWOULDBLOCK = 11, ENOENT = 2;
    public const short POLLIN = 1;
    public const uint CLOSE_RANGE_CLOEXEC = 4;
    public const int PR_SET_PDEATHSIG = 1, PR_CAPBSET_DROP = 24, PR_SET_NO_NEW_PRIVS = 38;

    [LibraryImport(Lib, SetLastError = true)] public static partial int unshare(int flags);
    [LibraryImport(Lib, SetLastError = true)] public static partial int setns(int fd, int nstype);
    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int mount(string? source, string target, string? fstype, ulong flags, string? data);
    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int umount2(string target, int flags);
    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial long syscall(long number, string a, string b);
    [LibraryImport(Lib, SetLastError = true)]
    public static partial long syscall(long number, uint a, uint b, uint c);
    [LibraryImport(Lib, SetLastError = true)]
    public static partial long syscall(long number, int a, int b, nint c, uint d);
    [LibraryImport(Lib, SetLastError = true)] public static partial int poll(PollFd* fds, nuint nfds, int timeout);
    [LibraryImport(Lib, SetLastError = true)] public static partial int setgroups(nuint size, uint* list);
    [LibraryImport(Lib, SetLastError = true)] public static partial int setresgid(uint rgid, uint egid, uint sgid);
    [LibraryImport(Lib, SetLastError = true)] public static partial int setresuid(uint ruid, uint euid, uint suid);
    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int open(string path, int flags, int mode);
    [LibraryImport(Lib, SetLastError = true)] public static partial int close(int fd);
    [LibraryImport(Lib, SetLastError = true)] public static partial nint read(int fd, byte* buf, nint count);
    [LibraryImport(Lib, SetLastError = true)] public static partial nint write(int fd, byte* buf, nint count);
    [LibraryImport(Lib, SetLastError = true)] public static partial int pipe2(int* fds, int flags);
    [LibraryImport(Lib, SetLastError = true)] public static partial int dup2(int oldfd, int newfd);
    [LibraryImport(Lib, SetLastError = true)] public static partial int fcntl(int fd, int cmd, int arg);
    [LibraryImport(Lib, SetLastError = true)] public static partial int fchdir(int fd);
    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int chdir(string path);
    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int mknod(string path, int mode, ulong dev);
    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int symlink(string target, string linkpath);
    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int chmod(string path, int mode);
    [LibraryImport(Lib, SetLastError = true)] public static partial int sethostname(byte* name, nint len);
    [LibraryImport(Lib, SetLastError = true)] public static partial int setsid();
    [LibraryImport(Lib, SetLastError = true)] public static partial int ioctl(int fd, uint request, void* arg);
    [LibraryImport(Lib, SetLastError = true)] public static partial int kill(int pid, int sig);
    [LibraryImport(Lib, SetLastError = true)] public static partial int waitpid(int pid, int* status, int options);
    [LibraryImport(Lib, SetLastError = true)] public static partial int prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);
    [LibraryImport(Lib, SetLastError = true)] public static partial int flock(int fd, int operation);
    [LibraryImport(Lib, SetLastError = true)] public static partial int execve(byte* path, byte** argv, byte** envp);
    /// <summary>execve with this process's own environment (glibc's environ, which .NET does not change).</summary>
    [LibraryImport(Lib, SetLastError = true)] public static partial int execv(byte* path, byte** argv);
    [LibraryImport(Lib, SetLastError = true)] public static partial int getpid();
    [LibraryImport(Lib, SetLastError = true)] public static partial int isatty(int fd);
    [LibraryImport(Lib)] public static partial nint signal(int sig, nint handler);
    [LibraryImport(Lib)] public static partial int sigemptyset(void* set);
    [LibraryImport(Lib)] public static partial int sigfillset(void* set);
    [LibraryImport(Lib)] public static partial int sigprocmask(int how, void* set, void* oldset);

    // posix_spawn: glibc forks with CLONE_VM|CLONE_VFORK and execs at once, so no managed code runs in the
    // child (a forked .NET child has one thread and locks held by threads that no longer exist).
    [LibraryImport(Lib)] public static partial int posix_spawn(int* pid, byte* path, void* fileActions, void* attr, byte** argv, byte** envp);
    [LibraryImport(Lib)] public static partial int posix_spawn_file_actions_init(void* fa);
    [LibraryImport(Lib)] public static partial int posix_spawn_file_actions_destroy(void* fa);
    [LibraryImport(Lib)] public static partial int posix_spawn_file_actions_adddup2(void* fa, int fd, int newfd);
    [LibraryImport(Lib)] public static partial int posix_spawnattr_init(void* attr);
    [LibraryImport(Lib)] public static partial int posix_spawnattr_destroy(void* attr);
    [LibraryImport(Lib)] public static partial int posix_spawnattr_setflags(void* attr, short flags);
    [LibraryImport(Lib)] public static partial int posix_spawnattr_setsigdefault(void* attr, void* sigset);
    [LibraryImport(Lib)] public static partial int posix_spawnattr_setsigmask(void* attr, void* sigset);
    public const short POSIX_SPAWN_SETSIGDEF = 0x04, POSIX_SPAWN_SETSIGMASK = 0x08, POSIX_SPAWN_SETSID = 0x80;

    public static int Errno => Marshal.GetLastPInvokeError();

    /// <summary>Throws a <see cref="SyscallException"/> naming the call and the object when <paramref name="result"/> is -1.</summary>
    public static int Check(int result, string call, string? target = null)
    {
        if (result == -1) throw new SyscallException(call, target, Errno);
        return result;
    }

    public static long Check(long result, string call, string? target = null)
    {
        if (result == -1) throw new SyscallException(call, target, Errno);
        return result;
    }

    public static void SetCloexec(int fd, bool on) =>
        Check(fcntl(fd, F_SETFD, on ? FD_CLOEXEC : 0), "fcntl(F_SETFD)");
}

[StructLayout(LayoutKind.Sequential)]
internal struct PollFd { public int Fd; public short Events, Revents; }

/// <summary>An errno from a system call, with the call and the object it was made on:
/// <c>mount("/var/lib/minidocker/…/merged"): Device or resource busy</c>.</summary>
public sealed class SyscallException(string call, string? target, int errno)
    : Exception(target is null ? $"{call}: {Marshal.GetPInvokeErrorMessage(errno)}"
                               : $"{call}(\"{target}\"): {Marshal.GetPInvokeErrorMessage(errno)}")
{
    public int Errno { get; } = errno;
}

using System.Runtime.InteropServices;
using Tmds.Linux;

namespace MiniDocker.Linux;

/// <summary>
/// The libc calls MiniDocker makes, in one interop style: source-generated marshalling (AOT-clean), UTF-8 paths,
/// errno captured by the marshaller right after the call (read it with <see cref="LastErrno"/>), failures turned into
/// <see cref="SyscallException"/> by <see cref="Check(int, string, string?)"/>. Constants come from Tmds.LibC, whose
/// per-architecture assemblies carry the right values for x86_64 and arm64 (O_DIRECTORY is 0x10000 on one and
/// 0x4000 on the other); the few it lacks come from <see cref="NativeConstants"/>.
/// </summary>
public static unsafe partial class Libc
{
    private const string Lib = "libc";
    private static readonly NativeConstants Arch = NativeConstants.Current;

    public static readonly int CLONE_NEWNS = LibC.CLONE_NEWNS, CLONE_NEWCGROUP = LibC.CLONE_NEWCGROUP,
        CLONE_NEWUTS = LibC.CLONE_NEWUTS, CLONE_NEWIPC = LibC.CLONE_NEWIPC, CLONE_NEWNET = LibC.CLONE_NEWNET,
        CLONE_NEWPID = LibC.CLONE_NEWPID, CLONE_NEWUSER = LibC.CLONE_NEWUSER, CLONE_FS = LibC.CLONE_FS;

    public static readonly ulong MS_RDONLY = LibC.MS_RDONLY, MS_NOSUID = LibC.MS_NOSUID, MS_NODEV = LibC.MS_NODEV,
        MS_NOEXEC = LibC.MS_NOEXEC, MS_REMOUNT = LibC.MS_REMOUNT, MS_BIND = LibC.MS_BIND, MS_REC = LibC.MS_REC,
        MS_PRIVATE = LibC.MS_PRIVATE, MS_SLAVE = LibC.MS_SLAVE, MS_STRICTATIME = LibC.MS_STRICTATIME;
    public static readonly int MNT_DETACH = LibC.MNT_DETACH;

    public static readonly int O_RDONLY = LibC.O_RDONLY, O_WRONLY = LibC.O_WRONLY, O_RDWR = LibC.O_RDWR,
        O_CREAT = LibC.O_CREAT, O_EXCL = LibC.O_EXCL, O_NOCTTY = LibC.O_NOCTTY, O_TRUNC = LibC.O_TRUNC,
        O_NONBLOCK = LibC.O_NONBLOCK, O_DIRECTORY = LibC.O_DIRECTORY, O_NOFOLLOW = LibC.O_NOFOLLOW,
        O_CLOEXEC = LibC.O_CLOEXEC, O_PATH = LibC.O_PATH;
    public static readonly int F_GETFD = LibC.F_GETFD, F_SETFD = LibC.F_SETFD, FD_CLOEXEC = LibC.FD_CLOEXEC,
        F_DUPFD_CLOEXEC = LibC.F_DUPFD_CLOEXEC;
    public static readonly int AT_FDCWD = LibC.AT_FDCWD, AT_SYMLINK_NOFOLLOW = LibC.AT_SYMLINK_NOFOLLOW,
        AT_REMOVEDIR = LibC.AT_REMOVEDIR;
    public static readonly int S_IFMT = (int)(uint)LibC.S_IFMT, S_IFDIR = (int)(uint)LibC.S_IFDIR,
        S_IFREG = (int)(uint)LibC.S_IFREG, S_IFLNK = (int)(uint)LibC.S_IFLNK, S_IFCHR = (int)(uint)LibC.S_IFCHR,
        S_IFBLK = (int)(uint)LibC.S_IFBLK, S_IFIFO = (int)(uint)LibC.S_IFIFO;
    public static readonly long UTIME_OMIT = LibC.UTIME_OMIT;
    public static readonly int SIGKILL = LibC.SIGKILL, SIGTERM = LibC.SIGTERM, SIGINT = LibC.SIGINT,
        SIGWINCH = LibC.SIGWINCH, SIGSTOP = LibC.SIGSTOP, SIG_SETMASK = LibC.SIG_SETMASK, SIGHUP = LibC.SIGHUP;
    public static readonly int ESRCH = LibC.ESRCH, EINTR = LibC.EINTR, EWOULDBLOCK = LibC.EWOULDBLOCK,
        ENOENT = LibC.ENOENT, ENOTDIR = LibC.ENOTDIR, ENOTEMPTY = LibC.ENOTEMPTY, ELOOP = LibC.ELOOP,
        EISDIR = LibC.EISDIR;
    public static readonly short POLLIN = LibC.POLLIN;
    public static readonly int AF_NETLINK = LibC.AF_NETLINK, AF_INET = LibC.AF_INET, SOCK_RAW = LibC.SOCK_RAW, SOCK_DGRAM = LibC.SOCK_DGRAM, SOCK_CLOEXEC = LibC.SOCK_CLOEXEC,
        SOL_SOCKET = LibC.SOL_SOCKET, SOL_NETLINK = LibC.SOL_NETLINK, SO_RCVBUFFORCE = LibC.SO_RCVBUFFORCE,
        MSG_PEEK = LibC.MSG_PEEK, MSG_TRUNC = LibC.MSG_TRUNC, MSG_DONTWAIT = LibC.MSG_DONTWAIT,
        EEXIST = LibC.EEXIST, ENODEV = LibC.ENODEV;
    public static readonly uint TIOCSCTTY = (uint)LibC.TIOCSCTTY, TIOCGWINSZ = (uint)LibC.TIOCGWINSZ,
        TIOCSWINSZ = (uint)LibC.TIOCSWINSZ, TIOCGPTN = (uint)LibC.TIOCGPTN, TIOCSPTLCK = (uint)LibC.TIOCSPTLCK;

    public static readonly int LOCK_SH = Arch.LOCK_SH, LOCK_EX = Arch.LOCK_EX, LOCK_NB = Arch.LOCK_NB,
        LOCK_UN = Arch.LOCK_UN, WNOHANG = Arch.WNOHANG;
    public static readonly long SYS_pivot_root = Arch.SYS_pivot_root, SYS_close_range = Arch.SYS_close_range,
        SYS_pidfd_send_signal = Arch.SYS_pidfd_send_signal, SYS_pidfd_open = Arch.SYS_pidfd_open;
    public static readonly uint CLOSE_RANGE_CLOEXEC = Arch.CLOSE_RANGE_CLOEXEC;
    public static readonly byte DT_UNKNOWN = Arch.DT_UNKNOWN, DT_DIR = Arch.DT_DIR;
    public static readonly int PR_SET_PDEATHSIG = Arch.PR_SET_PDEATHSIG, PR_CAPBSET_DROP = Arch.PR_CAPBSET_DROP,
        PR_SET_NO_NEW_PRIVS = Arch.PR_SET_NO_NEW_PRIVS;
    public static readonly long SYS_keyctl = Arch.SYS_keyctl;
    public static readonly int KEYCTL_JOIN_SESSION_KEYRING = Arch.KEYCTL_JOIN_SESSION_KEYRING,
        PR_SET_SECCOMP = Arch.PR_SET_SECCOMP, SECCOMP_MODE_FILTER = Arch.SECCOMP_MODE_FILTER;
    /// <summary>A seccomp filter's verdicts (the kernel's; libseccomp's SCMP_ACT_* are the same numbers).</summary>
    public static readonly uint SECCOMP_RET_KILL_PROCESS = Arch.SECCOMP_RET_KILL_PROCESS,
        SECCOMP_RET_KILL_THREAD = Arch.SECCOMP_RET_KILL_THREAD, SECCOMP_RET_TRAP = Arch.SECCOMP_RET_TRAP,
        SECCOMP_RET_ERRNO = Arch.SECCOMP_RET_ERRNO, SECCOMP_RET_TRACE = Arch.SECCOMP_RET_TRACE,
        SECCOMP_RET_LOG = Arch.SECCOMP_RET_LOG, SECCOMP_RET_ALLOW = Arch.SECCOMP_RET_ALLOW,
        SECCOMP_RET_DATA = Arch.SECCOMP_RET_DATA;
    public static readonly long SYS_seccomp = Arch.SYS_seccomp;
    public static readonly uint SECCOMP_SET_MODE_FILTER = Arch.SECCOMP_SET_MODE_FILTER,
        SECCOMP_FILTER_FLAG_TSYNC = Arch.SECCOMP_FILTER_FLAG_TSYNC;
    /// <summary>bpf(2), for cgroup v2's device rules: a BPF_PROG_TYPE_CGROUP_DEVICE program attached to a cgroup.</summary>
    public static readonly long SYS_bpf = Arch.SYS_bpf;
    public static readonly int BPF_PROG_LOAD = Arch.BPF_PROG_LOAD, BPF_PROG_ATTACH = Arch.BPF_PROG_ATTACH,
        BPF_PROG_DETACH = Arch.BPF_PROG_DETACH, BPF_PROG_QUERY = Arch.BPF_PROG_QUERY,
        BPF_PROG_TYPE_CGROUP_DEVICE = Arch.BPF_PROG_TYPE_CGROUP_DEVICE, BPF_CGROUP_DEVICE = Arch.BPF_CGROUP_DEVICE,
        BPF_F_ALLOW_MULTI = Arch.BPF_F_ALLOW_MULTI, BPF_DEVCG_ACC_MKNOD = Arch.BPF_DEVCG_ACC_MKNOD,
        BPF_DEVCG_ACC_READ = Arch.BPF_DEVCG_ACC_READ, BPF_DEVCG_ACC_WRITE = Arch.BPF_DEVCG_ACC_WRITE,
        BPF_DEVCG_DEV_BLOCK = Arch.BPF_DEVCG_DEV_BLOCK, BPF_DEVCG_DEV_CHAR = Arch.BPF_DEVCG_DEV_CHAR;
    /// <summary>setrlimit's resources (--ulimit), asm-generic's numbering on both architectures.</summary>
    public static readonly int RLIMIT_CPU = Arch.RLIMIT_CPU, RLIMIT_FSIZE = Arch.RLIMIT_FSIZE, RLIMIT_DATA = Arch.RLIMIT_DATA,
        RLIMIT_STACK = Arch.RLIMIT_STACK, RLIMIT_CORE = Arch.RLIMIT_CORE, RLIMIT_RSS = Arch.RLIMIT_RSS,
        RLIMIT_NPROC = Arch.RLIMIT_NPROC, RLIMIT_NOFILE = Arch.RLIMIT_NOFILE, RLIMIT_MEMLOCK = Arch.RLIMIT_MEMLOCK,
        RLIMIT_AS = Arch.RLIMIT_AS, RLIMIT_LOCKS = Arch.RLIMIT_LOCKS, RLIMIT_SIGPENDING = Arch.RLIMIT_SIGPENDING,
        RLIMIT_MSGQUEUE = Arch.RLIMIT_MSGQUEUE, RLIMIT_NICE = Arch.RLIMIT_NICE, RLIMIT_RTPRIO = Arch.RLIMIT_RTPRIO,
        RLIMIT_RTTIME = Arch.RLIMIT_RTTIME;
    public static readonly short POSIX_SPAWN_SETSIGDEF = Arch.POSIX_SPAWN_SETSIGDEF,
        POSIX_SPAWN_SETSIGMASK = Arch.POSIX_SPAWN_SETSIGMASK, POSIX_SPAWN_SETSID = Arch.POSIX_SPAWN_SETSID;
    /// <summary>openat2(2) (Linux 5.6): resolving a mount target inside a container's root without leaving it.</summary>
    public static readonly long SYS_openat2 = Arch.SYS_openat2;
    public static readonly ulong RESOLVE_IN_ROOT = Arch.RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS = Arch.RESOLVE_NO_MAGICLINKS;
    public static readonly int EROFS = LibC.EROFS;
    /// <summary>statx(2) (glibc 2.28), for the mount id (STATX_MNT_ID, Linux 5.8): a walk that must stay in one mount.</summary>
    public static readonly int AT_EMPTY_PATH = Arch.AT_EMPTY_PATH;
    public static readonly uint STATX_TYPE = Arch.STATX_TYPE, STATX_MODE = Arch.STATX_MODE, STATX_NLINK = Arch.STATX_NLINK,
        STATX_UID = Arch.STATX_UID, STATX_GID = Arch.STATX_GID, STATX_INO = Arch.STATX_INO, STATX_MNT_ID = Arch.STATX_MNT_ID;

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
    [LibraryImport(Lib, SetLastError = true)]
    public static partial long syscall(long number, int a, nint b);
    [LibraryImport(Lib, SetLastError = true)]
    public static partial long syscall(long number, int a, void* b, uint c);
    [LibraryImport(Lib, SetLastError = true)]
    public static partial long syscall(long number, uint a, uint b, void* c);
    [LibraryImport(Lib, SetLastError = true, EntryPoint = "syscall", StringMarshalling = StringMarshalling.Utf8)]
    private static partial long syscall_openat2(long number, int dirfd, string path, OpenHow* how, nuint size);
    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint readlinkat(int dirfd, string path, byte* buf, nint size);

    /// <summary>openat2(2) with struct open_how (glibc 2.36 has no wrapper); -1 and errno on failure.</summary>
    public static int openat2(int dirfd, string path, ulong flags, ulong resolve)
    {
        var how = new OpenHow { Flags = flags, Mode = 0, Resolve = resolve };
        return (int)syscall_openat2(SYS_openat2, dirfd, path, &how, (nuint)sizeof(OpenHow));
    }

    [LibraryImport(Lib, SetLastError = true)] public static partial int poll(PollFd* fds, nuint nfds, int timeout);
    [LibraryImport(Lib, SetLastError = true)] public static partial int setgroups(nuint size, uint* list);
    [LibraryImport(Lib, SetLastError = true)] public static partial int setresgid(uint rgid, uint egid, uint sgid);
    [LibraryImport(Lib, SetLastError = true)] public static partial int setresuid(uint ruid, uint euid, uint suid);
    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int open(string path, int flags, int mode);
    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int openat(int dirfd, string path, int flags, uint mode);
    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int mkdirat(int dirfd, string path, uint mode);
    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int symlinkat(string target, int newdirfd, string linkpath);
    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int linkat(int olddirfd, string oldpath, int newdirfd, string newpath, int flags);
    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int unlinkat(int dirfd, string path, int flags);
    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int fchownat(int dirfd, string path, uint uid, uint gid, int flags);
    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int utimensat(int dirfd, string path, timespec* times, int flags);
    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int fstatat(int dirfd, string path, stat* buf, int flags);
    [LibraryImport(Lib, SetLastError = true)] public static partial int fstat(int fd, stat* buf);
    // Raw-name overloads, for names read back from the disk (a tar's bytes, getdents64): no string round trip.
    [LibraryImport(Lib, SetLastError = true)] public static partial int openat(int dirfd, byte* path, int flags, uint mode);
    [LibraryImport(Lib, SetLastError = true)] public static partial int unlinkat(int dirfd, byte* path, int flags);
    [LibraryImport(Lib, SetLastError = true)] public static partial int fstatat(int dirfd, byte* path, stat* buf, int flags);
    /// <summary>Directory entries as struct linux_dirent64 records (one layout on every 64-bit architecture).</summary>
    [LibraryImport(Lib, SetLastError = true)] public static partial nint getdents64(int fd, byte* buf, nint count);
    [LibraryImport(Lib, SetLastError = true)] public static partial int statx(int dirfd, byte* path, int flags, uint mask, Statx* buf);
    [LibraryImport(Lib, SetLastError = true)] public static partial int fchownat(int dirfd, byte* path, uint uid, uint gid, int flags);
    [LibraryImport(Lib, SetLastError = true)] public static partial int fchown(int fd, uint uid, uint gid);
    [LibraryImport(Lib, SetLastError = true)] public static partial int fchmod(int fd, uint mode);
    [LibraryImport(Lib, SetLastError = true)] public static partial int futimens(int fd, timespec* times);
    [LibraryImport(Lib, SetLastError = true)] public static partial int fsync(int fd);
    [LibraryImport(Lib, SetLastError = true)] public static unsafe partial nint getrandom(byte* buffer, nuint length, uint flags);

    /// <summary>Bytes from the kernel's CSPRNG (getrandom(2), blocking only before the pool is first seeded). .NET's
    /// RandomNumberGenerator goes through OpenSSL on Linux, whose loading and set-up cost every `run` a few ms.</summary>
    public static unsafe byte[] RandomBytes(int count)
    {
        var bytes = new byte[count];
        fixed (byte* p = bytes)
        {
            for (int done = 0; done < count;)
            {
                nint n = getrandom(p + done, (nuint)(count - done), 0);
                if (n < 0 && LastErrno == EINTR) continue;
                if (n < 0) throw new SyscallException("getrandom", null, LastErrno);
                done += (int)n;
            }
        }
        return bytes;
    }
    [LibraryImport(Lib, SetLastError = true)] public static partial int syncfs(int fd);
    [LibraryImport(Lib, SetLastError = true)] public static partial int close(int fd);
    [LibraryImport(Lib, SetLastError = true)] public static partial nint read(int fd, byte* buf, nint count);
    [LibraryImport(Lib, SetLastError = true)] public static partial nint write(int fd, byte* buf, nint count);
    [LibraryImport(Lib, SetLastError = true)] public static partial int pipe2(int* fds, int flags);
    [LibraryImport(Lib, SetLastError = true)] public static partial int socket(int domain, int type, int protocol);
    [LibraryImport(Lib, SetLastError = true)] public static partial int bind(int fd, byte* address, int length);
    [LibraryImport(Lib, SetLastError = true)] public static partial int setsockopt(int fd, int level, int option, void* value, int length);
    [LibraryImport(Lib, SetLastError = true)] public static partial nint send(int fd, byte* buffer, nint length, int flags);
    [LibraryImport(Lib, SetLastError = true)] public static partial nint recv(int fd, byte* buffer, nint length, int flags);
    [LibraryImport(Lib, SetLastError = true)] public static partial int dup2(int oldfd, int newfd);
    [LibraryImport(Lib, SetLastError = true)] public static partial int fcntl(int fd, int cmd, int arg);
    [LibraryImport(Lib, SetLastError = true)] public static partial int fchdir(int fd);
    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int chdir(string path);
    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int mknod(string path, int mode, ulong dev);
    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int mknodat(int dirfd, string path, int mode, ulong dev);
    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int fsetxattr(int fd, string name, byte* value, nint size, int flags);
    [LibraryImport(Lib, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint lgetxattr(string path, string name, byte* value, nint size);
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
    /// <summary>struct rlimit is two rlim_t (unsigned long, 64-bit on both architectures); RLIM_INFINITY is ~0.</summary>
    [LibraryImport(Lib, SetLastError = true)] public static partial int setrlimit(int resource, ulong* limits);
    [LibraryImport(Lib, SetLastError = true)] public static partial int execve(byte* path, byte** argv, byte** envp);
    /// <summary>execve with this process's own environment (glibc's environ, which .NET does not change).</summary>
    [LibraryImport(Lib, SetLastError = true)] public static partial int execv(byte* path, byte** argv);
    [LibraryImport(Lib, SetLastError = true)] public static partial int getpid();
    [LibraryImport(Lib, SetLastError = true)] public static partial uint geteuid();
    [LibraryImport(Lib, SetLastError = true)] public static partial int isatty(int fd);
    [LibraryImport(Lib)] public static partial nint signal(int sig, nint handler);
    [LibraryImport(Lib)] public static partial int sigemptyset(void* set);
    [LibraryImport(Lib)] public static partial int sigfillset(void* set);
    [LibraryImport(Lib, SetLastError = true)] public static partial int sigprocmask(int how, void* set, void* oldset);

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

    public static int LastErrno => Marshal.GetLastPInvokeError();

    /// <summary>Throws a <see cref="SyscallException"/> naming the call and the object when <paramref name="result"/> is -1.</summary>
    public static int Check(int result, string call, string? target = null)
    {
        if (result == -1) throw new SyscallException(call, target, LastErrno);
        return result;
    }

    public static long Check(long result, string call, string? target = null)
    {
        if (result == -1) throw new SyscallException(call, target, LastErrno);
        return result;
    }

    public static void SetCloexec(int fd, bool on) =>
        Check(fcntl(fd, F_SETFD, on ? FD_CLOEXEC : 0), "fcntl(F_SETFD)");
}

/// <summary>struct statx of linux/stat.h (256 bytes, one layout on every architecture): the fields MiniDocker reads.</summary>
[StructLayout(LayoutKind.Explicit, Size = 256)]
public struct Statx
{
    [FieldOffset(0)] public uint Mask;
    [FieldOffset(16)] public uint Nlink;
    [FieldOffset(20)] public uint Uid;
    [FieldOffset(24)] public uint Gid;
    [FieldOffset(28)] public ushort Mode;
    [FieldOffset(32)] public ulong Ino;
    [FieldOffset(136)] public uint DevMajor;
    [FieldOffset(140)] public uint DevMinor;
    [FieldOffset(144)] public ulong MntId;
}

/// <summary>struct open_how of linux/openat2.h: three u64s on every architecture.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct OpenHow { public ulong Flags, Mode, Resolve; }

[StructLayout(LayoutKind.Sequential)]
public struct PollFd { public int Fd; public short Events, Revents; }

using System.Runtime.InteropServices;

namespace MiniDocker.Linux;

/// <summary>
/// The constants Tmds.LibC 0.5 does not carry, per architecture. System call numbers differ between x86_64 (its own
/// table) and arm64 (asm-generic); the rest happen to agree, and are listed for both anyway so that one test
/// (LinuxConstantsTests) checks every value against each architecture's kernel and libc headers.
/// </summary>
public sealed record NativeConstants(
    long SYS_pivot_root, long SYS_pidfd_send_signal, long SYS_pidfd_open, long SYS_close_range,
    int LOCK_SH, int LOCK_EX, int LOCK_NB, int LOCK_UN, int WNOHANG,
    int PR_SET_PDEATHSIG, int PR_CAPBSET_DROP, int PR_SET_NO_NEW_PRIVS, uint CLOSE_RANGE_CLOEXEC,
    short POSIX_SPAWN_SETSIGDEF, short POSIX_SPAWN_SETSIGMASK, short POSIX_SPAWN_SETSID, byte DT_UNKNOWN, byte DT_DIR,
    long SYS_keyctl = 250, int KEYCTL_JOIN_SESSION_KEYRING = 1, int PR_SET_SECCOMP = 22, int SECCOMP_MODE_FILTER = 2,
    uint SECCOMP_RET_KILL_PROCESS = 0x80000000, uint SECCOMP_RET_KILL_THREAD = 0, uint SECCOMP_RET_TRAP = 0x00030000,
    uint SECCOMP_RET_ERRNO = 0x00050000, uint SECCOMP_RET_TRACE = 0x7ff00000, uint SECCOMP_RET_LOG = 0x7ffc0000,
    uint SECCOMP_RET_ALLOW = 0x7fff0000, uint SECCOMP_RET_DATA = 0x0000ffff,
    long SYS_bpf = 321, int BPF_PROG_LOAD = 5, int BPF_PROG_ATTACH = 8, int BPF_PROG_DETACH = 9, int BPF_PROG_QUERY = 16,
    int BPF_PROG_TYPE_CGROUP_DEVICE = 15, int BPF_CGROUP_DEVICE = 6, int BPF_F_ALLOW_MULTI = 2,
    int BPF_DEVCG_ACC_MKNOD = 1, int BPF_DEVCG_ACC_READ = 2, int BPF_DEVCG_ACC_WRITE = 4, int BPF_DEVCG_DEV_BLOCK = 1,
    int BPF_DEVCG_DEV_CHAR = 2,
    int RLIMIT_CPU = 0, int RLIMIT_FSIZE = 1, int RLIMIT_DATA = 2, int RLIMIT_STACK = 3, int RLIMIT_CORE = 4,
    int RLIMIT_RSS = 5, int RLIMIT_NPROC = 6, int RLIMIT_NOFILE = 7, int RLIMIT_MEMLOCK = 8, int RLIMIT_AS = 9,
    int RLIMIT_LOCKS = 10, int RLIMIT_SIGPENDING = 11, int RLIMIT_MSGQUEUE = 12, int RLIMIT_NICE = 13,
    int RLIMIT_RTPRIO = 14, int RLIMIT_RTTIME = 15,
    long SYS_openat2 = 437, ulong RESOLVE_IN_ROOT = 0x10, ulong RESOLVE_NO_MAGICLINKS = 0x02,
    int AT_EMPTY_PATH = 0x1000, uint STATX_TYPE = 0x1, uint STATX_MODE = 0x2, uint STATX_NLINK = 0x4, uint STATX_UID = 0x8,
    uint STATX_GID = 0x10, uint STATX_INO = 0x100, uint STATX_MNT_ID = 0x1000,
    long SYS_seccomp = 317, uint SECCOMP_SET_MODE_FILTER = 1, uint SECCOMP_FILTER_FLAG_TSYNC = 1)
{
    public static readonly NativeConstants X64 = new(
        SYS_pivot_root: 155, SYS_pidfd_send_signal: 424, SYS_pidfd_open: 434, SYS_close_range: 436,
        LOCK_SH: 1, LOCK_EX: 2, LOCK_NB: 4, LOCK_UN: 8, WNOHANG: 1,
        PR_SET_PDEATHSIG: 1, PR_CAPBSET_DROP: 24, PR_SET_NO_NEW_PRIVS: 38, CLOSE_RANGE_CLOEXEC: 4,
        POSIX_SPAWN_SETSIGDEF: 0x04, POSIX_SPAWN_SETSIGMASK: 0x08, POSIX_SPAWN_SETSID: 0x80, DT_UNKNOWN: 0, DT_DIR: 4);

    public static readonly NativeConstants Arm64 = X64 with { SYS_pivot_root = 41, SYS_keyctl = 219, SYS_bpf = 280, SYS_seccomp = 277 };

    public static NativeConstants For(Architecture architecture) => architecture switch
    {
        Architecture.X64 => X64,
        Architecture.Arm64 => Arm64,
        _ => throw new PlatformNotSupportedException($"MiniDocker runs on x86_64 and arm64, not {architecture}"),
    };

    public static readonly NativeConstants Current = For(RuntimeInformation.ProcessArchitecture);
}

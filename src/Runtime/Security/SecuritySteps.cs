using System.Runtime.InteropServices;
using MiniDocker.Linux;
using static MiniDocker.Linux.Libc;

namespace MiniDocker.Runtime.Security;

/// <summary>
/// The container side of <see cref="SecurityConfig"/>, in runc's order: a new session keyring first; the seccomp
/// filter before the capability drop when no_new_privs is off (loading a filter then needs CAP_SYS_ADMIN, which the
/// drop and a switch to a non-root user take away), else as the very last step before execve.
/// </summary>
public static unsafe class SecuritySteps
{
    [StructLayout(LayoutKind.Sequential)]
    private struct SockFprog { public ushort Length; public byte* Filter; }

    /// <summary>The keyring of the shell that ran minidocker (its secrets, its uid's user keyring link) must not be the
    /// container's session keyring (runc joins a new one too).</summary>
    public static void JoinNewSessionKeyring()
    {
        if (syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, 0) == -1 && LastErrno != (int)Errno.ENOSYS)
            throw SyscallException.Last("keyctl(KEYCTL_JOIN_SESSION_KEYRING)", "a new session keyring");
    }

    public static void BeforeCapabilityDrop(SecurityConfig? security)
    {
        if (security is { NoNewPrivileges: false, Confined: true }) LoadFilter(security.SeccompFilter);
    }

    public static void BeforeExec(SecurityConfig? security)
    {
        if (security is not { NoNewPrivileges: true }) return;
        Check(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)");
        if (security.Confined) LoadFilter(security.SeccompFilter);
    }

    /// <summary>On this thread only: it is the one that calls execve, which ends the others.</summary>
    private static void LoadFilter(byte[] filter)
    {
        if (filter.Length == 0 || filter.Length % 8 != 0 || filter.Length / 8 > ushort.MaxValue)
            throw new ContainerException($"seccomp: the stored filter is not a BPF program ({filter.Length} bytes)");
        fixed (byte* p = filter)
        {
            var program = new SockFprog { Length = (ushort)(filter.Length / 8), Filter = p };
            Check(prctl(PR_SET_SECCOMP, (nuint)SECCOMP_MODE_FILTER, (nuint)(&program), 0, 0), "prctl(PR_SET_SECCOMP)", "the seccomp filter");
        }
    }
}

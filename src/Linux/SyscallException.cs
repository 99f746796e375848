using System.Runtime.InteropServices;

namespace MiniDocker.Linux;

/// <summary>A failed system call, naming the call and the object it was made on:
/// <c>mount("/var/lib/minidocker/…/merged"): Device or resource busy</c>; never a bare number.</summary>
public class SyscallException : MiniDockerException
{
    public SyscallException(string call, string? target, int errno)
        : base(target is null ? $"{call}: {Marshal.GetPInvokeErrorMessage(errno)}"
                              : $"{call}(\"{target}\"): {Marshal.GetPInvokeErrorMessage(errno)}")
    {
        Call = call;
        Target = target;
        Errno = (Errno)errno;
    }

    public string Call { get; }
    public string? Target { get; }
    public Errno Errno { get; }

    /// <summary>The errno of the last P/Invoke made with SetLastError, as this exception.</summary>
    public static SyscallException Last(string call, string? target = null) =>
        new(call, target, Marshal.GetLastPInvokeError());
}

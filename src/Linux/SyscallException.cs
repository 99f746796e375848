using System.Runtime.InteropServices;

namespace MiniDocker.Linux;

/// <summary>A failed system call, naming the call and the object it was made on:
/// <c>mount("/var/lib/minidocker/…/merged"): Device or resource busy</c>; never a bare number.</summary>
public class SyscallException : MiniDockerException
{
    public SyscallException(string call, string? target, int errno)
        : base(target is null ? $"{call}: {Marshal.GetPInvokeErrorMessage(errno)}"
                              : $"{call}(\"{Printable(target)}\"): {Marshal.GetPInvokeErrorMessage(errno)}")
    {
        Call = call;
        Target = target;
        Errno = (Errno)errno;
    }

    public string Call { get; }
    public string? Target { get; }
    public Errno Errno { get; }

    /// <summary>A target as it can stand in one line: control characters as '?', and a name longer than 160
    /// characters (a tar entry can be 4 KB) shortened in the middle.</summary>
    public static string Printable(string target)
    {
        var chars = target.Select(c => char.IsControl(c) ? '?' : c).ToArray();
        string text = new(chars);
        return text.Length <= 160 ? text : $"{text[..80]}...{text[^60..]} ({target.Length} characters)";
    }

    /// <summary>The errno of the last P/Invoke made with SetLastError, as this exception.</summary>
    public static SyscallException Last(string call, string? target = null) =>
        new(call, target, Marshal.GetLastPInvokeError());
}

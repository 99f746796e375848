using System.Runtime.InteropServices;

namespace MiniDocker.Netlink;

/// <summary>
/// A failed netlink or namespace call. The message names the operation and the object, then gives strerror and,
/// when the kernel explained itself through an extended ACK, its own sentence, e.g.
/// <c>veth 'mdk1a2b3c': File exists</c> or <c>set link 'eth0' mtu 70000: Invalid argument (mtu greater than device maximum)</c>.
/// </summary>
public sealed class NetlinkException : Exception
{
    internal NetlinkException(string what, string name, int errno, string? detail = null, string? kernelMessage = null)
        : base(Describe(what, name, errno, detail, kernelMessage))
    {
        Errno = errno;
    }

    /// <summary>The positive errno value reported by the kernel or libc.</summary>
    public int Errno { get; }

    private static string Describe(string what, string name, int errno, string? detail, string? kernelMessage)
    {
        var subject = detail is null ? $"{what} '{name}'" : $"{what} '{name}' {detail}";
        var reason = Marshal.GetPInvokeErrorMessage(errno);
        return kernelMessage is null ? $"{subject}: {reason}" : $"{subject}: {reason} ({kernelMessage})";
    }
}

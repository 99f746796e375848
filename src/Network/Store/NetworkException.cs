using System.Runtime.InteropServices;

namespace MiniDocker.Network;

/// <summary>
/// A network operation that cannot be done as asked. The message is one line meant for the user of the CLI
/// (e.g. "network with name web already exists") and names what is wrong.
/// </summary>
public class NetworkException : Exception
{
    public NetworkException(string message) : base(message) { }
    public NetworkException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>
/// A failed libc call. The message names the call, the object and strerror, e.g.
/// "flock '/var/lib/minidocker/networks/.lock': Interrupted system call", never a bare errno.
/// </summary>
public sealed class SystemCallException : NetworkException
{
    public SystemCallException(string call, string target, int errno)
        : base($"{call} '{target}': {Marshal.GetPInvokeErrorMessage(errno)}")
    {
        Call = call;
        Errno = errno;
    }

    public string Call { get; }
    public int Errno { get; }
}

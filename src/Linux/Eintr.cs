using System.Runtime.InteropServices;

namespace MiniDocker.Linux;

/// <summary>Retries a call interrupted by a signal (the .NET runtime installs handlers, so EINTR happens).</summary>
public static class Eintr
{
    /// <summary>Calls <paramref name="call"/> until it does not fail with EINTR; the result is returned as is
    /// (read errno with <see cref="Libc.LastErrno"/> when it is -1).</summary>
    public static int Retry(Func<int> call)
    {
        int r;
        while ((r = call()) == -1 && Marshal.GetLastPInvokeError() == (int)Errno.EINTR) { }
        return r;
    }

    public static nint Retry(Func<nint> call)
    {
        nint r;
        while ((r = call()) == -1 && Marshal.GetLastPInvokeError() == (int)Errno.EINTR) { }
        return r;
    }
}

using System.Runtime.InteropServices;
using MiniDocker.Linux;

namespace MiniDocker.Images;

/// <summary>
/// A write that failed because the file system is full or the quota is used up. Retrying cannot help (the next
/// attempt fails the same way, after filling the disk again), so such a failure ends the operation at once.
/// </summary>
public static class DiskFull
{
    /// <summary>.NET reports a failed write on Linux as an IOException whose HResult is the raw errno.</summary>
    public static bool Is(Exception e) => e switch
    {
        IOException io => io.HResult is (int)Errno.ENOSPC or (int)Errno.EDQUOT,
        SyscallException s => s.Errno is Errno.ENOSPC or Errno.EDQUOT,
        _ => false,
    };

    /// <summary>The errno's text alone ("No space left on device"), without the path .NET appends.</summary>
    public static string Describe(Exception e) => e is IOException io ? Marshal.GetPInvokeErrorMessage(io.HResult) : e.Message;
}

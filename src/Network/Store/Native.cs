using System.Runtime.InteropServices;

namespace MiniDocker.Network;

/// <summary>libc calls Tmds.LibC 0.5 does not bind (it has neither open(2) nor flock(2)).</summary>
internal static partial class Native
{
    public const int O_RDONLY = 0x0;
    public const int O_RDWR = 0x2;
    public const int O_CREAT = 0x40;
    public const int O_DIRECTORY = 0x10000;
    public const int O_CLOEXEC = 0x80000;

    public const int LOCK_EX = 2;

    public const int EINTR = 4;

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Open(string path, int flags, uint mode);

    [LibraryImport("libc", EntryPoint = "flock", SetLastError = true)]
    public static partial int Flock(int fd, int operation);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    public static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);
}

/// <summary>Owns one file descriptor and closes it exactly once.</summary>
internal sealed class FdHandle : SafeHandle
{
    private FdHandle(int fd) : base(invalidHandleValue: -1, ownsHandle: true) => SetHandle(fd);

    public override bool IsInvalid => handle == -1;

    public int Fd => (int)handle;

    /// <summary>open(2) with O_CLOEXEC always added, so no descriptor leaks into iptables, nft or a container.</summary>
    public static FdHandle Open(string path, int flags, uint mode = 0)
    {
        int fd = Native.Open(path, flags | Native.O_CLOEXEC, mode);
        if (fd < 0)
            throw new SystemCallException("open", path, Marshal.GetLastPInvokeError());
        return new FdHandle(fd);
    }

    // close(2) errors are not retried or reported: on Linux the descriptor is released even when close fails.
    protected override bool ReleaseHandle() => Native.Close((int)handle) == 0;
}

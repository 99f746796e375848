using System.Runtime.InteropServices;

namespace MiniDocker.Images.Native;

/// <summary>An exclusive flock held until disposed; serialises index updates between minidocker processes.</summary>
internal sealed class FileLock : IDisposable
{
    private readonly Fd _fd;

    private FileLock(Fd fd) => _fd = fd;

    public static FileLock Acquire(string path)
    {
        var raw = Libc.openat(Libc.AT_FDCWD, path, Libc.O_RDWR | Libc.O_CREAT | Libc.O_CLOEXEC, 0x180 /* 0600 */);
        if (raw < 0)
            throw Libc.Error("open", path, Marshal.GetLastPInvokeError());
        var fd = new Fd(raw, path);
        try
        {
            while (Libc.flock(fd.Value, Libc.LOCK_EX) != 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno != Libc.EINTR)
                    throw Libc.Error("flock", path, errno);
            }
            return new FileLock(fd);
        }
        catch
        {
            fd.Dispose();
            throw;
        }
    }

    // Closing the descriptor releases the lock.
    public void Dispose() => _fd.Dispose();
}

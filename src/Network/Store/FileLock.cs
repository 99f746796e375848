using System.Runtime.InteropServices;

namespace MiniDocker.Network;

/// <summary>
/// An exclusive flock(2) on a lock file, held until disposed. flock locks belong to the open file description, so
/// every Acquire opens the file anew: two threads of one process then exclude each other just like two processes.
/// .NET's FileStream is not used for the lock file because on Unix it takes a non-blocking flock of its own at open,
/// which would make a second opener fail instead of wait.
/// </summary>
internal sealed class FileLock : IDisposable
{
    private readonly FdHandle _fd;

    private FileLock(FdHandle fd) => _fd = fd;

    public static FileLock Acquire(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        FdHandle fd = FdHandle.Open(path, Native.O_RDWR | Native.O_CREAT, 0b110_000_000);
        try
        {
            while (Native.Flock(fd.Fd, Native.LOCK_EX) != 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno != Native.EINTR)
                    throw new SystemCallException("flock", path, errno);
            }
            return new FileLock(fd);
        }
        catch
        {
            fd.Dispose();
            throw;
        }
    }

    // Closing the last descriptor of the open file description releases the lock.
    public void Dispose() => _fd.Dispose();
}

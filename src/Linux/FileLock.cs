namespace MiniDocker.Linux;

/// <summary>
/// An flock(2) on a lock file, held until disposed. flock, not fcntl locks: it belongs to the open file description,
/// so two threads of one process exclude each other like two processes, and the kernel drops it when a holder is
/// killed. Every acquire opens the file anew. (.NET's FileStream is not used: on Unix it takes a non-blocking flock of
/// its own at open, which would make a second opener fail instead of wait.)
/// </summary>
public sealed class FileLock : IDisposable
{
    private readonly Fd _fd;

    private FileLock(Fd fd) => _fd = fd;

    /// <summary>The descriptor holding the lock (a monitor hands it on across execve).</summary>
    public Fd Descriptor => _fd;

    /// <summary>Blocks until the exclusive (or shared) lock on <paramref name="path"/> is held; creates the file 0600
    /// (and its directory).</summary>
    public static FileLock Acquire(string path, bool shared = false) =>
        TryTake(path, (shared ? Libc.LOCK_SH : Libc.LOCK_EX)) ?? throw new InvalidOperationException("unreachable");

    /// <summary>The lock if nobody else holds it now, else null.</summary>
    public static FileLock? TryAcquire(string path, bool shared = false) =>
        TryTake(path, (shared ? Libc.LOCK_SH : Libc.LOCK_EX) | Libc.LOCK_NB);

    private static FileLock? TryTake(string path, int operation)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var fd = Fd.Open(path, Libc.O_RDWR | Libc.O_CREAT, 0b110_000_000);
        try
        {
            if (Eintr.Retry(() => Libc.flock(fd.Value, operation)) == 0) return new FileLock(fd);
            int errno = Libc.LastErrno;
            if (errno == Libc.EWOULDBLOCK) { fd.Dispose(); return null; }
            throw new SyscallException("flock", path, errno);
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

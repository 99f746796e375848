using MiniDocker.Runtime.Native;

namespace MiniDocker.Runtime;

/// <summary>Crash-safe file writes and advisory locks, for state that several minidocker processes share.</summary>
public static class AtomicFile
{
    /// <summary>Temp file, fsync, rename: a reader sees the old content or the new, never half of it.
    /// Unlike the network and image stores, the directory is not fsynced after the rename: a container's state is
    /// rewritten several times per `run`, and each directory fsync forced a journal commit (about 3 ms here, which
    /// doubled `run --rm ... true`). What a power cut can lose is the last rename, and the state it leaves is one a
    /// crash also leaves, which recovery handles (no live owner: the container is treated as exited).</summary>
    public static void Write(string path, ReadOnlySpan<byte> content)
    {
        string tmp = $"{path}.tmp{Environment.ProcessId}.{Environment.CurrentManagedThreadId}";
        try
        {
            using (var f = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                f.Write(content);
                f.Flush(flushToDisk: true);
            }
            File.Move(tmp, path, overwrite: true);
        }
        catch
        {
            File.Delete(tmp);
            throw;
        }
    }

    /// <summary>An exclusive flock on <paramref name="path"/> (created if missing), released on dispose.
    /// flock, not fcntl locks: it belongs to the open file description, so threads of one process exclude each
    /// other too, and it is dropped by the kernel when a holder is killed.</summary>
    public static IDisposable Lock(string path)
    {
        var fd = Fd.Open(path, Libc.O_RDWR | Libc.O_CREAT, 0x180);
        while (Libc.flock(fd.Value, Libc.LOCK_EX) == -1)
        {
            if (Libc.Errno != 4) { var e = Libc.Errno; fd.Dispose(); throw new SyscallException("flock", path, e); }
        }
        return fd; // closing the fd releases the lock
    }
}

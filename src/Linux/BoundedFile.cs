namespace MiniDocker.Linux;

/// <summary>Reads a small text file that someone else controls (a container's /etc/passwd, a user's --env-file):
/// regular files only, opened without blocking (a FIFO would hang the reader) and read up to a limit (a link to
/// /dev/zero grew a reader to 1.45 GB).</summary>
public static class BoundedFile
{
    /// <summary>The content, or null when the file does not exist. Throws <see cref="MiniDockerException"/> naming
    /// <paramref name="displayName"/> for a directory, device, FIFO or socket, or for more than <paramref name="limit"/> bytes.</summary>
    public static unsafe byte[]? Read(string path, int limit, string displayName)
    {
        int raw = Libc.open(path, Libc.O_RDONLY | Libc.O_NONBLOCK | Libc.O_NOCTTY | Libc.O_CLOEXEC, 0);
        if (raw < 0)
        {
            int errno = Libc.LastErrno;
            if (errno == Libc.ENOENT || errno == Libc.ENOTDIR) return null;
            throw new MiniDockerException($"open {displayName}: {System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage(errno).ToLowerInvariant()}");
        }
        using var fd = new Fd(raw, displayName);
        Tmds.Linux.stat st;
        Libc.Check(Libc.fstat(fd.Value, &st), "fstat", displayName);
        int type = (int)(uint)st.st_mode & Libc.S_IFMT;
        if (type == Libc.S_IFDIR) throw new MiniDockerException($"{displayName} is a directory, not a file");
        if (type != Libc.S_IFREG) throw new MiniDockerException($"{displayName} is not a regular file");
        var buffer = new byte[Math.Min((long)limit + 1, Math.Max(0, (long)st.st_size) + 1)];
        int total = 0;
        while (true)
        {
            if (total == buffer.Length)
            {
                if (buffer.Length > limit) throw new MiniDockerException($"{displayName} is larger than {limit / 1024} KiB");
                Array.Resize(ref buffer, Math.Min(limit + 1, buffer.Length * 2));
            }
            nint n;
            fixed (byte* p = buffer) n = Libc.read(fd.Value, p + total, buffer.Length - total);
            if (n < 0)
            {
                if (Libc.LastErrno == Libc.EINTR) continue;
                throw SyscallException.Last("read", displayName);
            }
            if (n == 0) break;
            total += (int)n;
        }
        if (total > limit) throw new MiniDockerException($"{displayName} is larger than {limit / 1024} KiB");
        return buffer[..total];
    }
}

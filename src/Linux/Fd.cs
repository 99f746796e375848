using System.Runtime.InteropServices;

namespace MiniDocker.Linux;

/// <summary>An owned file descriptor (file, directory, pipe, socket, namespace, pidfd), closed exactly once, also
/// when an exception unwinds. Every descriptor is opened O_CLOEXEC: none may leak into iptables, nft or a
/// container.</summary>
public sealed class Fd : SafeHandle
{
    /// <summary>What the descriptor refers to, for error messages.</summary>
    public string Name { get; }

    public Fd(int fd, string name = "") : base(-1, ownsHandle: true)
    {
        SetHandle(fd);
        Name = name;
    }

    public int Value => (int)handle;

    public override bool IsInvalid => (int)handle < 0;

    // close() is not retried on EINTR: Linux releases the descriptor even then, and a retry could close a
    // descriptor another thread was just given.
    protected override bool ReleaseHandle() => Libc.close((int)handle) == 0;

    public static Fd Open(string path, int flags, int mode = 0) =>
        new(Libc.Check(Libc.open(path, flags | Libc.O_CLOEXEC, mode), "open", path), path);

    /// <summary>openat relative to <paramref name="dir"/>; errors name <paramref name="displayName"/>.</summary>
    public static Fd OpenAt(Fd dir, string path, int flags, uint mode, string displayName)
    {
        int fd = Libc.openat(dir.Value, path, flags | Libc.O_CLOEXEC, mode);
        if (fd < 0) throw SyscallException.Last("open", displayName);
        return new Fd(fd, displayName);
    }

    /// <summary>Opens a directory by path, refusing a symlink in the last component.</summary>
    public static Fd OpenDirectory(string path) =>
        Open(path, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_NOFOLLOW);

    public static unsafe (Fd Read, Fd Write) Pipe()
    {
        int* fds = stackalloc int[2];
        Libc.Check(Libc.pipe2(fds, Libc.O_CLOEXEC), "pipe2");
        return (new Fd(fds[0], "pipe"), new Fd(fds[1], "pipe"));
    }

    public unsafe void WriteAll(ReadOnlySpan<byte> data)
    {
        fixed (byte* p = data)
        {
            int done = 0;
            while (done < data.Length)
            {
                nint n = Libc.write(Value, p + done, data.Length - done);
                if (n < 0)
                {
                    if (Libc.LastErrno == Libc.EINTR) continue;
                    throw SyscallException.Last("write", Name);
                }
                done += (int)n;
            }
        }
    }

    public void Fsync() => Libc.Check(Libc.fsync(Value), "fsync", Name);
}

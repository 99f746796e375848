using System.Runtime.InteropServices;

namespace MiniDocker.Images.Native;

/// <summary>An owned file descriptor; closed exactly once, also when an exception unwinds.</summary>
internal sealed class Fd : SafeHandle
{
    /// <summary>What the descriptor refers to, for error messages.</summary>
    public string Name { get; }

    public Fd(int fd, string name) : base(-1, ownsHandle: true)
    {
        SetHandle(fd);
        Name = name;
    }

    public int Value => (int)handle;

    public override bool IsInvalid => (int)handle < 0;

    protected override bool ReleaseHandle() => Libc.close((int)handle) == 0;

    /// <summary>openat that reports failure as an exception naming <paramref name="displayName"/>.</summary>
    public static Fd OpenAt(Fd dir, string path, int flags, uint mode, string displayName)
    {
        var fd = Libc.openat(dir.Value, path, flags | Libc.O_CLOEXEC, mode);
        if (fd < 0)
            throw Libc.Error("open", displayName, Marshal.GetLastPInvokeError());
        return new Fd(fd, displayName);
    }

    /// <summary>Opens a directory by absolute path, refusing a symlink in the last component.</summary>
    public static Fd OpenDirectory(string path)
    {
        const int flags = Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC;
        var fd = Libc.openat(Libc.AT_FDCWD, path, flags, 0);
        if (fd < 0)
            throw Libc.Error("open", path, Marshal.GetLastPInvokeError());
        return new Fd(fd, path);
    }

    public unsafe void WriteAll(ReadOnlySpan<byte> data)
    {
        fixed (byte* p = data)
        {
            var done = 0;
            while (done < data.Length)
            {
                var n = Libc.write(Value, p + done, data.Length - done);
                if (n < 0)
                {
                    var errno = Marshal.GetLastPInvokeError();
                    if (errno == Libc.EINTR)
                        continue;
                    throw Libc.Error("write", Name, errno);
                }
                done += (int)n;
            }
        }
    }

    public void Fsync() => Libc.Check(Libc.fsync(Value), "fsync", Name);
}

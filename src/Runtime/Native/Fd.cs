using System.Runtime.InteropServices;

namespace MiniDocker.Runtime.Native;

/// <summary>An owned file descriptor.</summary>
public sealed class Fd : SafeHandle
{
    public Fd(int fd) : base(-1, ownsHandle: true) => SetHandle(fd);
    public override bool IsInvalid => handle == -1;
    public int Value => (int)handle;
    protected override bool ReleaseHandle() => Libc.close((int)handle) == 0;

    public static unsafe (Fd Read, Fd Write) Pipe()
    {
        int* fds = stackalloc int[2];
        Libc.Check(Libc.pipe2(fds, Libc.O_CLOEXEC), "pipe2");
        return (new Fd(fds[0]), new Fd(fds[1]));
    }

    public static Fd Open(string path, int flags, int mode = 0) =>
        new(Libc.Check(Libc.open(path, flags | Libc.O_CLOEXEC, mode), "open", path));
}

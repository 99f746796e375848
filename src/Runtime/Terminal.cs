using System.Runtime.InteropServices;
using MiniDocker.Linux;
using MiniDocker.Runtime.Native;
using static MiniDocker.Linux.Libc;

namespace MiniDocker.Runtime;

/// <summary>
/// Relays the user's terminal to a container's pty: the user's terminal goes raw (so Ctrl-C travels as a byte and
/// the container's line discipline turns it into SIGINT for its foreground job), bytes are copied both ways, and
/// SIGWINCH becomes TIOCSWINSZ on the master. The terminal is restored on every exit path.
/// </summary>
public sealed unsafe class Terminal : IDisposable
{
    private readonly int _master;
    private readonly Termios _saved;
    private readonly bool _restore;
    private readonly PosixSignalRegistration? _winch;

    public Terminal(Fd master)
    {
        _master = master.Value;
        if (isatty(0) == 1)
        {
            Termios t;
            if (tcgetattr(0, &t) == 0)
            {
                _saved = t;
                cfmakeraw(&t);
                _restore = tcsetattr(0, TCSANOW, &t) == 0;
            }
        }
        _winch = PosixSignalRegistration.Create(PosixSignal.SIGWINCH, _ => CopyWindowSize(_master));
    }

    /// <summary>Gives the pty the size of the user's terminal (whichever of stdin, stdout, stderr is one).</summary>
    internal static void CopyWindowSize(int master)
    {
        WinSize ws;
        for (int fd = 0; fd < 3; fd++)
        {
            if (ioctl(fd, TIOCGWINSZ, &ws) == 0) { ioctl(master, TIOCSWINSZ, &ws); return; }
        }
    }

    /// <summary>Copies until the container side closes (read on the master gives EIO once every slave fd is gone).
    /// Input is copied only with -i; the input thread is a background thread that dies with the process.</summary>
    public void Relay(bool interactive)
    {
        if (interactive)
            new Thread(() => Copy(0, _master)) { IsBackground = true, Name = "stdin->pty" }.Start();
        Copy(_master, 1);
    }

    private static void Copy(int from, int to)
    {
        byte* buf = stackalloc byte[16384];
        while (true)
        {
            nint n = read(from, buf, 16384);
            if (n < 0 && LastErrno == 4) continue;
            if (n <= 0) return;
            for (nint off = 0; off < n;)
            {
                nint w = write(to, buf + off, n - off);
                if (w < 0 && LastErrno == 4) continue;
                if (w <= 0) return;
                off += w;
            }
        }
    }

    public void Dispose()
    {
        _winch?.Dispose();
        if (_restore)
        {
            Termios t = _saved;
            tcsetattr(0, TCSADRAIN, &t);
        }
    }
}

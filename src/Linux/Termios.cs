using System.Runtime.InteropServices;

namespace MiniDocker.Linux;

/// <summary>glibc's struct termios (60 bytes on Linux).</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct Termios
{
    public uint c_iflag, c_oflag, c_cflag, c_lflag;
    public byte c_line;
    public fixed byte c_cc[32];
    public uint c_ispeed, c_ospeed;
}

[StructLayout(LayoutKind.Sequential)]
public struct WinSize { public ushort Rows, Cols, XPixel, YPixel; }

public static unsafe partial class Libc
{
    [LibraryImport("libc", SetLastError = true)] public static partial int tcgetattr(int fd, Termios* t);
    [LibraryImport("libc", SetLastError = true)] public static partial int tcsetattr(int fd, int actions, Termios* t);
    [LibraryImport("libc")] public static partial void cfmakeraw(Termios* t);
    public const int TCSANOW = 0, TCSADRAIN = 1;
}

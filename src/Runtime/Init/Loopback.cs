using System.Runtime.InteropServices;
using MiniDocker.Linux;
using static MiniDocker.Linux.Libc;

namespace MiniDocker.Runtime.Init;

/// <summary>
/// The init's own network namespace starts with `lo` down; the init brings it up itself (as runc's init does for a
/// new netns), so `--net none` needs no netlink round trip from a thread of the CLI that joins the namespace.
/// Networks add their interfaces after this, at "created".
/// </summary>
internal static unsafe class Loopback
{
    // <linux/sockios.h>: the same numbers on every architecture Linux has.
    private const uint SIOCGIFFLAGS = 0x8913, SIOCSIFFLAGS = 0x8914;
    private const short IFF_UP = 0x1;

    /// <summary>struct ifreq: the name, then a union whose first member here is ifr_flags (40 bytes in all on LP64).</summary>
    [StructLayout(LayoutKind.Explicit, Size = 40)]
    private struct IfReq
    {
        [FieldOffset(0)] public fixed byte Name[16];
        [FieldOffset(16)] public short Flags;
    }

    public static void BringUp()
    {
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0) throw SyscallException.Last("socket(AF_INET)", "lo");
        try
        {
            var request = new IfReq();
            request.Name[0] = (byte)'l';
            request.Name[1] = (byte)'o';
            Check(ioctl(fd, SIOCGIFFLAGS, &request), "ioctl(SIOCGIFFLAGS)", "lo");
            request.Flags |= IFF_UP;
            Check(ioctl(fd, SIOCSIFFLAGS, &request), "ioctl(SIOCSIFFLAGS)", "lo");
        }
        finally { close(fd); }
    }
}

using MiniDocker.Linux;
using static MiniDocker.Linux.Libc;

namespace MiniDocker.Runtime.Cgroups;

/// <summary>dev_t as glibc encodes it on Linux (the same on every architecture): 12+20 bits of major, 8+24 of minor.</summary>
public static class DeviceNumbers
{
    public static long Major(ulong dev) => (long)(((dev >> 32) & 0xfffff000) | ((dev >> 8) & 0xfff));
    public static long Minor(ulong dev) => (long)(((dev >> 12) & 0xffffff00) | (dev & 0xff));

    public static ulong Make(long major, long minor)
    {
        ulong ma = (ulong)major, mi = (ulong)minor;
        return ((ma & 0xfffff000) << 32) | ((ma & 0xfff) << 8) | ((mi & 0xffffff00) << 12) | (mi & 0xff);
    }

    /// <summary>Docker's `--device` syntax: HOST, HOST:CONTAINER, HOST:PERMS or HOST:CONTAINER:PERMS; the host node is
    /// looked at here (symlinks followed, as Docker does), so the container gets its numbers, mode and owner.</summary>
    public static unsafe DeviceMapping Parse(string spec)
    {
        var parts = spec.Split(':');
        string host = parts[0], container = "", permissions = "rwm";
        switch (parts.Length)
        {
            case 1:
                break;
            case 2 when IsValidMode(parts[1]):
                permissions = parts[1];
                break;
            case 2:
                container = parts[1];
                break;
            case 3:
                container = parts[1];
                permissions = IsValidMode(parts[2]) ? parts[2] : throw new ContainerException($"invalid device mode: {parts[2]}");
                break;
            default:
                throw new ContainerException($"invalid device specification: {spec}");
        }
        if (container.Length == 0) container = host;
        if (!host.StartsWith('/')) throw new ContainerException($"bad format for path: {host}");
        if (!container.StartsWith('/')) throw new ContainerException($"bad format for path: {container}");

        Tmds.Linux.stat st;
        if (fstatat(AT_FDCWD, host, &st, 0) == -1)
            throw new ContainerException($"error gathering device information while adding custom device \"{host}\": " +
                System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage(LastErrno).ToLowerInvariant());
        int type = (int)(uint)st.st_mode & S_IFMT;
        if (type != S_IFCHR && type != S_IFBLK)
            throw new ContainerException($"error gathering device information while adding custom device \"{host}\": not a device node");
        ulong rdev = (ulong)st.st_rdev;
        return new DeviceMapping
        {
            PathOnHost = host,
            PathInContainer = container,
            Type = type == S_IFCHR ? "c" : "b",
            Major = Major(rdev),
            Minor = Minor(rdev),
            Permissions = permissions,
            FileMode = (uint)st.st_mode & 0x1FF,
            Uid = (uint)st.st_uid,
            Gid = (uint)st.st_gid,
        };
    }

    /// <summary>Docker's validDeviceMode: one to three of r, w, m, each at most once.</summary>
    private static bool IsValidMode(string mode) =>
        mode.Length is > 0 and <= 3 && mode.All(c => c is 'r' or 'w' or 'm') && mode.Distinct().Count() == mode.Length;
}

namespace MiniDocker.Runtime.Cgroups;

/// <summary>One line of a device cgroup's rules: type 'a' (all), 'c' or 'b'; major and minor, -1 for any; access a
/// subset of "rwm" (read, write, mknod).</summary>
public sealed record DeviceRule(char Type, long Major, long Minor, string Access, bool Allow)
{
    public const long Any = -1;

    /// <summary>As cgroup v1's devices.allow and devices.deny take it: "c 1:3 rwm", "a" for everything.</summary>
    public string ToV1() => Type == 'a' ? "a" : $"{Type} {Number(Major)}:{Number(Minor)} {Access}";

    private static string Number(long n) => n == Any ? "*" : n.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>
    /// What every container may use, as Docker gives it: Docker's own default spec (deny all; allow null, zero, urandom,
    /// random, tty, console; deny fuse) with runc's AllowedDevices appended (mknod of any char and block device; null,
    /// random, full, tty, zero, urandom; the pts and ptmx of its devpts; tun). mknod is allowed for any device, as in
    /// Docker: a node made inside the container cannot be opened unless a rule below allows it.
    /// </summary>
    /// <summary>Every device, for --privileged.</summary>
    public static readonly DeviceRule AllowAll = new('a', Any, Any, "rwm", true);

    public static readonly IReadOnlyList<DeviceRule> Defaults =
    [
        new('c', Any, Any, "m", true),
        new('b', Any, Any, "m", true),
        new('c', 1, 3, "rwm", true),   // /dev/null
        new('c', 1, 5, "rwm", true),   // /dev/zero
        new('c', 1, 7, "rwm", true),   // /dev/full
        new('c', 1, 8, "rwm", true),   // /dev/random
        new('c', 1, 9, "rwm", true),   // /dev/urandom
        new('c', 5, 0, "rwm", true),   // /dev/tty
        new('c', 5, 1, "rwm", true),   // /dev/console
        new('c', 5, 2, "rwm", true),   // /dev/ptmx
        new('c', 136, Any, "rwm", true), // /dev/pts/N
        new('c', 10, 200, "rwm", true),  // /dev/net/tun
    ];
}

/// <summary>A device the container gets with `--device HOST[:CONTAINER][:PERMS]`: the node is made in the container
/// with the host node's numbers, mode and owner, and the cgroup allows <see cref="Permissions"/> on it.</summary>
public sealed class DeviceMapping
{
    public string PathOnHost { get; set; } = "";
    public string PathInContainer { get; set; } = "";
    /// <summary>"c" or "b".</summary>
    public string Type { get; set; } = "c";
    public long Major { get; set; }
    public long Minor { get; set; }
    public string Permissions { get; set; } = "rwm";
    public uint FileMode { get; set; }
    public uint Uid { get; set; }
    public uint Gid { get; set; }

    public DeviceRule ToRule() => new(Type[0], Major, Minor, Permissions, true);
}

namespace MiniDocker.Runtime;

/// <summary>Linux capabilities by Docker's names (linux/capability.h numbers, the same on every architecture).</summary>
public static class Capabilities
{
    public static readonly string[] Names =
    [
        "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
        "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
        "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
        "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
        "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
        "CHECKPOINT_RESTORE",
    ];

    /// <summary>Docker's default set: root in the container cannot load modules, change the clock, use raw I/O, trace
    /// processes, administer the network or mount.</summary>
    public static readonly IReadOnlyList<string> Default =
    [
        "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP", "NET_BIND_SERVICE",
        "NET_RAW", "SYS_CHROOT", "MKNOD", "AUDIT_WRITE", "SETFCAP",
    ];

    public static int Number(string name) =>
        Array.IndexOf(Names, name) is var i and >= 0 ? i : throw new ContainerException($"unknown capability: \"{name}\"");

    /// <summary>Docker's resolution: the default set (or all with --privileged), then --cap-drop, then --cap-add; "ALL"
    /// in either; names with or without "CAP_", any case.</summary>
    public static List<string> Resolve(IEnumerable<string> add, IEnumerable<string> drop, bool privileged)
    {
        var adds = add.Select(Normalize).ToList();
        var drops = drop.Select(Normalize).ToList();
        var set = new HashSet<string>(privileged ? Names : Default);
        if (drops.Contains("ALL")) set.Clear();
        foreach (var d in drops.Where(d => d != "ALL")) set.Remove(d);
        if (adds.Contains("ALL")) set.UnionWith(Names);
        foreach (var a in adds.Where(a => a != "ALL")) set.Add(a);
        return Names.Where(set.Contains).ToList();
    }

    private static string Normalize(string name)
    {
        string upper = name.Trim().ToUpperInvariant();
        if (upper.StartsWith("CAP_", StringComparison.Ordinal)) upper = upper[4..];
        if (upper != "ALL") Number(upper);
        return upper;
    }
}

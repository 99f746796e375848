using MiniDocker.Linux;

namespace MiniDocker.Runtime.Cgroups;

/// <summary>What a container's cgroup enforces: device rules, and memory, CPU and pids limits.</summary>
public sealed record CgroupSpec(IReadOnlyList<DeviceRule> Devices, CgroupResources? Resources = null)
{
    /// <summary>Docker's default device rules plus the container's `--device`s, and its limits.</summary>
    public static CgroupSpec For(ContainerConfig config) => new(config.Privileged
        ? [DeviceRule.AllowAll] // --privileged: every device, as Docker
        : [.. DeviceRule.Defaults, .. config.Devices.Select(d => d.ToRule())], config.Resources);

    public CgroupResources Limits => Resources ?? new CgroupResources();
}

/// <summary>What `stats` shows of a container's cgroup. Memory usage is Docker's (without the inactive page cache);
/// a limit of 0 is "none".</summary>
public sealed record CgroupStats(ulong CpuUsageNanos, ulong MemoryUsage, ulong MemoryLimit, ulong Pids, ulong PidsLimit,
    ulong BlockRead, ulong BlockWrite, ulong CpuThrottledPeriods);

/// <summary>A cgroup step failed: the container does not start (or an exec does not run).</summary>
public sealed class CgroupException(string message, Exception? inner = null)
    : ContainerException(message, ExitCodes.RuntimeError, inner);

/// <summary>
/// Each container's own cgroup, <c>minidocker/SCOPE/ID</c> (SCOPE: a hash of the state root, so two roots never share
/// one), made before its init exists and removed after its last process is gone.
/// </summary>
public interface ICgroupManager
{
    /// <summary>Makes the container's cgroup (or takes over one a crash left) and sets <paramref name="spec"/> on it,
    /// before any process is in it.</summary>
    void Create(string containerId, CgroupSpec spec);

    /// <summary>Moves <paramref name="pid"/> (all its threads) into the container's cgroup.</summary>
    void AddProcess(string containerId, int pid);

    /// <summary>Moves <paramref name="pid"/> into the cgroup <paramref name="memberPid"/> is in (exec joins the
    /// container's init where it is, as runc does).</summary>
    void AddProcessBeside(int memberPid, int pid);

    /// <summary>Removes the container's cgroup once its processes are gone; nothing to do when it does not exist.</summary>
    void Remove(string containerId);

    /// <summary>Sets new limits on a running container's cgroup (`update`).</summary>
    void Update(string containerId, CgroupResources resources) =>
        throw new CgroupException("changing the limits of a running container is not supported on this host's cgroup layout yet");

    /// <summary>The cgroup's counters now; null when it does not exist (the container is not running).</summary>
    CgroupStats? Stats(string containerId) => null;

    /// <summary>Whether the OOM killer killed a process in the container's cgroup; read before <see cref="Remove"/>.</summary>
    bool OomKilled(string containerId) => false;
}

public static class CgroupManagers
{
    /// <summary>The manager for this host's cgroup layout: v2 when /sys/fs/cgroup is the unified hierarchy, else v1
    /// (the legacy or hybrid layout, where the devices controller has a hierarchy of its own). Detected on first use.</summary>
    public static ICgroupManager ForRoot(string stateRoot) => new Detected(Scope(stateRoot));

    /// <summary>For what is not tied to one state root (exec joining its container's cgroup).</summary>
    public static ICgroupManager ForHost() => new Detected("");

    public const string CgroupRoot = "/sys/fs/cgroup";

    /// <summary>8 hex digits of FNV-1a over the state root's full path (the network subsystem's scope, computed the
    /// same way).</summary>
    public static string Scope(string stateRoot)
    {
        ulong hash = 14695981039346656037;
        foreach (byte b in System.Text.Encoding.UTF8.GetBytes(Path.GetFullPath(stateRoot).TrimEnd('/')))
            hash = (hash ^ b) * 1099511628211;
        return ((uint)(hash ^ (hash >> 32))).ToString("x8");
    }

    /// <summary>On a hybrid host, MINIDOCKER_CGROUP_HIERARCHY=unified puts containers in the unified hierarchy (its BPF
    /// device program, what a v2 host uses) instead of the v1 devices controller: how the v2 path is tested on v1 hosts.</summary>
    public const string HierarchyVariable = "MINIDOCKER_CGROUP_HIERARCHY";

    private sealed class Detected(string scope) : ICgroupManager
    {
        private readonly Lazy<bool> _unifiedOnly = new(() => File.Exists(Path.Combine(CgroupRoot, "cgroup.controllers")));
        private readonly Lazy<ICgroupManager?> _v1 = new(() =>
            File.Exists(Path.Combine(CgroupRoot, "cgroup.controllers")) ? null : new CgroupV1Manager(CgroupV1Manager.FindHierarchies(), scope));
        private readonly Lazy<ICgroupManager?> _v2 = new(() =>
            CgroupV2Manager.FindMount() is { } mount ? new CgroupV2Manager(mount, scope) : null);

        private ICgroupManager Chosen =>
            _unifiedOnly.Value || Environment.GetEnvironmentVariable(HierarchyVariable) == "unified"
                ? _v2.Value ?? throw new CgroupException($"{HierarchyVariable}=unified, but no cgroup2 hierarchy is mounted")
                : _v1.Value!;

        public void Create(string containerId, CgroupSpec spec) => Chosen.Create(containerId, spec);
        public void AddProcess(string containerId, int pid) => Chosen.AddProcess(containerId, pid);
        public void Update(string containerId, CgroupResources resources) => Chosen.Update(containerId, resources);
        public CgroupStats? Stats(string containerId) => Chosen.Stats(containerId);
        public bool OomKilled(string containerId) => Chosen.OomKilled(containerId);

        public void AddProcessBeside(int memberPid, int pid)
        {
            // Where the member is, not what this process's environment chooses: an exec must never land outside its
            // container's device rules because it was started without the variable its container was.
            if (!_unifiedOnly.Value && CgroupTree.MemberPath(memberPid, "devices") is { } v1 && v1.StartsWith("/minidocker/", StringComparison.Ordinal))
                _v1.Value!.AddProcessBeside(memberPid, pid);
            else if (CgroupTree.MemberPath(memberPid, "") is { } v2 && v2.StartsWith("/minidocker/", StringComparison.Ordinal) && _v2.Value is { } unified)
                unified.AddProcessBeside(memberPid, pid);
            else
                throw new CgroupException($"process {memberPid} is in no container cgroup of minidocker's");
        }

        public void Remove(string containerId)
        {
            // Both hierarchies on a hybrid host: the container may have been made under either choice.
            if (_v1.Value is { } v1) v1.Remove(containerId);
            if (_v2.Value is { } v2) v2.Remove(containerId);
        }
    }
}

using System.Globalization;
using System.Text;
using MiniDocker.Linux;
using static MiniDocker.Linux.Libc;

namespace MiniDocker.Runtime.Cgroups;

/// <summary>One cgroup v1 hierarchy: where it is mounted and the controllers it carries ("cpu,cpuacct" may share one).</summary>
internal sealed record V1Hierarchy(string Mount, IReadOnlyList<string> Controllers)
{
    public bool Has(string controller) => Controllers.Contains(controller);
}

/// <summary>
/// cgroup v1 (legacy or hybrid layout): the container gets a directory minidocker/SCOPE/ID in every hierarchy of the
/// controllers it uses (devices, memory, cpu, cpuacct, cpuset, pids, blkio). Device rules go to devices.deny and
/// devices.allow (a new cgroup inherits its parent's rules, so the container's starts from "deny all" and gets the
/// allow list after it); limits to the controllers' files.
/// </summary>
internal sealed class CgroupV1Manager(IReadOnlyList<V1Hierarchy> hierarchies, string scope) : ICgroupManager
{
    private const string Prefix = "minidocker";

    /// <summary>The controllers a container is put under; devices is required, the others are used when mounted.</summary>
    public static readonly string[] Controllers = ["devices", "memory", "cpu", "cpuacct", "cpuset", "pids", "blkio"];

    private static string ScopeDirectory(V1Hierarchy h, string scope) => Path.Combine(h.Mount, Prefix, scope);
    private string DirectoryOf(V1Hierarchy h, string containerId) => Path.Combine(ScopeDirectory(h, scope), containerId);
    private V1Hierarchy? Hierarchy(string controller) => hierarchies.FirstOrDefault(h => h.Has(controller));

    /// <summary>The mounted v1 hierarchies of <see cref="Controllers"/>, from mountinfo (normally
    /// /sys/fs/cgroup/CONTROLLER).</summary>
    public static IReadOnlyList<V1Hierarchy> FindHierarchies(string mountinfo = "/proc/self/mountinfo")
    {
        var found = new List<V1Hierarchy>();
        foreach (var line in File.ReadLines(mountinfo))
        {
            // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS
            var fields = line.Split(' ');
            int dash = Array.IndexOf(fields, "-");
            if (dash < 5 || dash + 3 >= fields.Length || fields[dash + 1] != "cgroup" || fields[3] != "/") continue;
            var controllers = fields[dash + 3].Split(',').Where(Controllers.Contains).ToList();
            // A hierarchy mounted twice is one hierarchy: the first mount serves.
            if (controllers.Count > 0 && !found.Any(h => h.Controllers.Intersect(controllers).Any()))
                found.Add(new V1Hierarchy(fields[4], controllers));
        }
        if (!found.Any(h => h.Has("devices")))
            throw new CgroupException("no devices cgroup is mounted (cgroup v1 'devices' controller, or cgroup v2 at " +
                $"{CgroupManagers.CgroupRoot}): containers cannot start without device rules");
        return found;
    }

    public void Create(string containerId, CgroupSpec spec)
    {
        var limits = spec.Limits;
        RequireControllers(limits);
        var made = new List<string>();
        try
        {
            foreach (var h in hierarchies)
            {
                string dir = DirectoryOf(h, containerId);
                if (CgroupTree.MakeDirectory(Chain(h, dir))) made.Add(dir);
                if (h.Has("cpuset")) InheritCpuset(h, dir);
                if (h.Has("devices")) SetDevices(dir, spec.Devices, containerId);
            }
            Apply(containerId, limits, update: false);
        }
        catch (Exception e) when (e is SyscallException or IOException or CgroupException)
        {
            // Only what this call made goes: a directory a crash left (taken over) is the caller's Remove's business.
            for (int i = made.Count - 1; i >= 0; i--) unlinkat(AT_FDCWD, made[i], AT_REMOVEDIR);
            foreach (var h in hierarchies) RemoveEmptyParents(h);
            if (e is CgroupException) throw;
            throw new CgroupException($"cannot set up the cgroup of container {Short(containerId)}: {e.Message}", e);
        }
    }

    /// <summary>A limit whose controller is not mounted would silently not apply: refuse it instead.</summary>
    private void RequireControllers(CgroupResources r)
    {
        var needed = new List<(bool Wanted, string Controller, string Flag)>
        {
            (r.Memory > 0 || r.MemorySwap > 0 || r.MemoryReservation > 0, "memory", "--memory"),
            (r.NanoCpus > 0 || r.CpuShares > 0, "cpu", "--cpus/--cpu-shares"),
            (r.CpusetCpus.Length > 0 || r.CpusetMems.Length > 0, "cpuset", "--cpuset-cpus/--cpuset-mems"),
            (r.PidsLimit > 0, "pids", "--pids-limit"),
        };
        foreach (var (wanted, controller, flag) in needed)
            if (wanted && Hierarchy(controller) is null)
                throw new CgroupException($"the {controller} cgroup controller is not mounted on this host: {flag} cannot be enforced");
    }

    private static void SetDevices(string dir, IReadOnlyList<DeviceRule> rules, string containerId)
    {
        // "a" first: from here the container may use nothing, then exactly what the rules allow.
        Write(Path.Combine(dir, "devices.deny"), "a", "cgroup-devices");
        foreach (var rule in rules)
            Write(Path.Combine(dir, rule.Allow ? "devices.allow" : "devices.deny"), rule.ToV1(), "cgroup-devices");
        // The kernel ignores nothing silently, but check the outcome: the one thing that must never be is "all".
        string list = File.ReadAllText(Path.Combine(dir, "devices.list"));
        if (!rules.Contains(DeviceRule.AllowAll) && list.Split('\n').Any(l => l.Trim() == "a *:* rwm"))
            throw new CgroupException($"the device rules of container {Short(containerId)} did not take effect ({dir}/devices.list still allows every device)");
    }

    /// <summary>
    /// A new cpuset cgroup has no CPUs and no memory nodes, and the kernel refuses to move a task into it (ENOSPC: the
    /// classic mydocker bug). Each level from minidocker/ down gets its parent's, before any task moves.
    /// </summary>
    private void InheritCpuset(V1Hierarchy h, string leaf)
    {
        string[] chain = [Path.Combine(h.Mount, Prefix), ScopeDirectory(h, scope), leaf];
        foreach (var dir in chain)
        {
            string parent = Path.GetDirectoryName(dir)!;
            foreach (var file in new[] { "cpuset.cpus", "cpuset.mems" })
            {
                string path = Path.Combine(dir, file);
                if (File.ReadAllText(path).Trim().Length > 0) continue;
                Write(path, File.ReadAllText(Path.Combine(parent, file)).Trim(), "cgroup-cpuset");
            }
        }
    }

    public void Update(string containerId, CgroupResources resources)
    {
        RequireControllers(resources);
        if (!Directory.Exists(DirectoryOf(hierarchies.First(h => h.Has("devices")), containerId)))
            throw new CgroupException($"container {Short(containerId)} has no cgroup (it is not running)");
        try { Apply(containerId, resources, update: true); }
        catch (Exception e) when (e is SyscallException or IOException)
        {
            throw new CgroupException($"cannot update the limits of container {Short(containerId)}: {e.Message}", e);
        }
    }

    /// <summary>Writes the limits. A new cgroup is unlimited, so Create writes only what is set; an update writes
    /// every value (an unset one back to "unlimited").</summary>
    private void Apply(string containerId, CgroupResources r, bool update)
    {
        if (Hierarchy("memory") is { } memory)
        {
            string dir = DirectoryOf(memory, containerId);
            string limit = r.Memory > 0 ? Num(r.Memory) : "-1";
            string swap = r.MemorySwap > 0 ? Num(r.MemorySwap) : "-1";
            bool hasSwapFile = File.Exists(Path.Combine(dir, "memory.memsw.limit_in_bytes"));
            if (update || r.Memory > 0 || r.MemorySwap > 0)
            {
                // The kernel keeps memory <= memory+swap at every step: lowering writes memory first, raising swap first.
                try
                {
                    Write(Path.Combine(dir, "memory.limit_in_bytes"), limit, "cgroup-memory");
                    if (hasSwapFile) Write(Path.Combine(dir, "memory.memsw.limit_in_bytes"), swap, "cgroup-memory");
                }
                catch (SyscallException e) when (e.Errno == Errno.EINVAL && hasSwapFile)
                {
                    Write(Path.Combine(dir, "memory.memsw.limit_in_bytes"), swap, "cgroup-memory");
                    Write(Path.Combine(dir, "memory.limit_in_bytes"), limit, "cgroup-memory");
                }
            }
            if (update || r.MemoryReservation > 0)
                Write(Path.Combine(dir, "memory.soft_limit_in_bytes"), r.MemoryReservation > 0 ? Num(r.MemoryReservation) : "-1", "cgroup-memory");
        }
        if (Hierarchy("cpu") is { } cpu)
        {
            string dir = DirectoryOf(cpu, containerId);
            if (update || r.NanoCpus > 0)
            {
                Write(Path.Combine(dir, "cpu.cfs_period_us"), Num(CgroupResources.CpuPeriodMicros), "cgroup-cpu");
                Write(Path.Combine(dir, "cpu.cfs_quota_us"), r.NanoCpus > 0 ? Num(r.CpuQuotaMicros) : "-1", "cgroup-cpu");
            }
            if (update || r.CpuShares > 0)
                Write(Path.Combine(dir, "cpu.shares"), Num(r.CpuShares > 0 ? r.CpuShares : 1024), "cgroup-cpu");
        }
        if (Hierarchy("cpuset") is { } cpuset)
        {
            string dir = DirectoryOf(cpuset, containerId);
            string parent = ScopeDirectory(cpuset, scope);
            foreach (var (value, file) in new[] { (r.CpusetCpus, "cpuset.cpus"), (r.CpusetMems, "cpuset.mems") })
                if (update || value.Length > 0)
                    Write(Path.Combine(dir, file), value.Length > 0 ? value : File.ReadAllText(Path.Combine(parent, file)).Trim(), "cgroup-cpuset");
        }
        if (Hierarchy("pids") is { } pids && (update || r.PidsLimit > 0))
            Write(Path.Combine(DirectoryOf(pids, containerId), "pids.max"), r.PidsLimit > 0 ? Num(r.PidsLimit.Value) : "max", "cgroup-pids");
    }

    public void AddProcess(string containerId, int pid)
    {
        foreach (var h in hierarchies) CgroupTree.Join(DirectoryOf(h, containerId), pid, Short(containerId));
    }

    public void AddProcessBeside(int memberPid, int pid)
    {
        var where = new Dictionary<V1Hierarchy, string>();
        try
        {
            // "5:devices:/minidocker/SCOPE/ID": the member's cgroup in this (the host's) cgroup namespace.
            foreach (var line in File.ReadLines($"/proc/{memberPid}/cgroup"))
            {
                var parts = line.Split(':', 3);
                if (parts.Length != 3) continue;
                var controllers = parts[1].Split(',');
                if (hierarchies.FirstOrDefault(h => h.Controllers.All(controllers.Contains)) is { } h) where[h] = parts[2];
            }
        }
        catch (IOException e) { throw new CgroupException($"cannot find the cgroup of process {memberPid}: {e.Message}", e); }
        foreach (var h in hierarchies)
        {
            if (!where.TryGetValue(h, out var relative))
                throw new CgroupException($"cannot find the {string.Join(',', h.Controllers)} cgroup of process {memberPid}");
            CgroupTree.Join(h.Mount + relative, pid, $"process {memberPid}");
        }
    }

    public void Remove(string containerId)
    {
        CgroupException? first = null;
        foreach (var h in hierarchies)
        {
            // The other controllers' directories still go when one cannot.
            try { CgroupTree.Remove(DirectoryOf(h, containerId), ParentsOf(h), Short(containerId)); }
            catch (CgroupException e) { first ??= e; }
        }
        if (first is not null) throw first;
    }

    private string[] ParentsOf(V1Hierarchy h) => [ScopeDirectory(h, scope), Path.Combine(h.Mount, Prefix)];

    /// <summary>The shared parents go with their last child; a concurrent Create recreates them (see CgroupTree.MakeDirectory).</summary>
    private void RemoveEmptyParents(V1Hierarchy h)
    {
        foreach (var parent in ParentsOf(h))
            if (unlinkat(AT_FDCWD, parent, AT_REMOVEDIR) == -1) break;
    }

    public bool OomKilled(string containerId)
    {
        if (Hierarchy("memory") is not { } memory) return false;
        var control = ReadKeyed(Path.Combine(DirectoryOf(memory, containerId), "memory.oom_control"));
        return control.GetValueOrDefault("oom_kill") > 0 || control.GetValueOrDefault("under_oom") > 0;
    }

    public CgroupStats? Stats(string containerId)
    {
        if (!Directory.Exists(DirectoryOf(hierarchies.First(h => h.Has("devices")), containerId))) return null;
        string? Dir(string controller) => Hierarchy(controller) is { } h ? DirectoryOf(h, containerId) : null;
        ulong cpuUsage = 0, memUsage = 0, memLimit = 0, pids = 0, pidsLimit = 0, read = 0, write = 0, throttled = 0;
        if (Dir("cpuacct") is { } acct) cpuUsage = ReadNumber(Path.Combine(acct, "cpuacct.usage"));
        if (Dir("cpu") is { } cpu) throttled = ReadKeyed(Path.Combine(cpu, "cpu.stat")).GetValueOrDefault("nr_throttled");
        if (Dir("memory") is { } mem)
        {
            // Docker's "usage": without the inactive page cache, which the kernel reclaims first.
            ulong usage = ReadNumber(Path.Combine(mem, "memory.usage_in_bytes"));
            ulong inactive = ReadKeyed(Path.Combine(mem, "memory.stat")).GetValueOrDefault("total_inactive_file");
            memUsage = usage > inactive ? usage - inactive : usage;
            memLimit = ReadNumber(Path.Combine(mem, "memory.limit_in_bytes"));
            if (memLimit >= long.MaxValue / 2) memLimit = 0; // "unlimited" is a page-rounded LONG_MAX
        }
        if (Dir("pids") is { } p)
        {
            pids = ReadNumber(Path.Combine(p, "pids.current"));
            string max = ReadText(Path.Combine(p, "pids.max"));
            pidsLimit = ulong.TryParse(max, out var n) ? n : 0;
        }
        if (Dir("blkio") is { } blk)
        {
            // "8:0 Read 4096" per device, then "Total N".
            foreach (var line in ReadText(Path.Combine(blk, "blkio.throttle.io_service_bytes")).Split('\n'))
            {
                var f = line.Split(' ');
                if (f.Length != 3 || !ulong.TryParse(f[2], out var bytes)) continue;
                if (f[1] == "Read") read += bytes;
                else if (f[1] == "Write") write += bytes;
            }
        }
        return new CgroupStats(cpuUsage, memUsage, memLimit, pids, pidsLimit, read, write, throttled);
    }

    private static string ReadText(string path)
    {
        try { return File.ReadAllText(path).Trim(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return ""; }
    }

    private static ulong ReadNumber(string path) => ulong.TryParse(ReadText(path), out var n) ? n : 0;

    /// <summary>"key value" lines (memory.stat, cpu.stat, memory.oom_control).</summary>
    internal static Dictionary<string, ulong> ReadKeyed(string path)
    {
        var result = new Dictionary<string, ulong>();
        foreach (var line in ReadText(path).Split('\n'))
        {
            var f = line.Split(' ', 2);
            if (f.Length == 2 && ulong.TryParse(f[1], out var v)) result[f[0]] = v;
        }
        return result;
    }

    private string[] Chain(V1Hierarchy h, string dir) => [Path.Combine(h.Mount, Prefix), ScopeDirectory(h, scope), dir];

    private static void Write(string path, string value, string failPoint)
    {
        using var fd = Fd.Open(path, O_WRONLY | O_CLOEXEC);
        if (KernelFailPoint.Injected(failPoint)) throw new SyscallException("write", path, (int)Errno.EPERM);
        try { fd.WriteAll(Encoding.ASCII.GetBytes(value)); }
        catch (SyscallException e) { throw new SyscallException("write " + value, path, (int)e.Errno); }
    }

    private static string Num(long n) => n.ToString(CultureInfo.InvariantCulture);

    private static string Short(string id) => CgroupTree.Short(id);
}

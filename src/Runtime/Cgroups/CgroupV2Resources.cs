using System.Globalization;
using System.Text;
using MiniDocker.Linux;
using static MiniDocker.Linux.Libc;

namespace MiniDocker.Runtime.Cgroups;

/// <summary>
/// The limits part of cgroup v2 (the unified hierarchy), per the kernel's Documentation/admin-guide/cgroup-v2.rst:
/// Docker's HostConfig values converted as runc converts them, written to a cgroup directory's interface files, and
/// the counters read back for `stats`. Paths are given by the caller, so the contract is tested on a fake tree.
/// </summary>
public static class CgroupV2Resources
{
    /// <summary>The controllers a container's limits use; each must be enabled in every ancestor's subtree_control.</summary>
    public static readonly string[] Controllers = ["cpuset", "cpu", "io", "memory", "pids"];

    /// <summary>
    /// Enables <see cref="Controllers"/> (those the level offers in cgroup.controllers) in cgroup.subtree_control of
    /// each directory from <paramref name="root"/> down to <paramref name="parent"/>, so a child made under
    /// <paramref name="parent"/> has their files. A controller a set limit needs and the hierarchy lacks is refused.
    /// </summary>
    public static void EnableControllers(string root, string parent, CgroupResources limits)
    {
        string relative = Path.GetRelativePath(root, parent);
        var chain = new List<string> { root };
        if (relative != ".")
            foreach (var part in relative.Split('/')) chain.Add(Path.Combine(chain[^1], part));
        foreach (var dir in chain)
        {
            var offered = Read(Path.Combine(dir, "cgroup.controllers")).Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var enabled = Read(Path.Combine(dir, "cgroup.subtree_control")).Split(' ', StringSplitOptions.RemoveEmptyEntries);
            foreach (var controller in Controllers)
            {
                if (enabled.Contains(controller)) continue;
                if (!offered.Contains(controller))
                {
                    if (Needs(limits, controller))
                        throw new CgroupException($"the {controller} cgroup controller is not available in {dir}: the container's limits cannot be enforced");
                    continue;
                }
                Write(Path.Combine(dir, "cgroup.subtree_control"), "+" + controller);
            }
        }
    }

    private static bool Needs(CgroupResources r, string controller) => controller switch
    {
        "memory" => r.Memory > 0 || r.MemorySwap > 0 || r.MemoryReservation > 0,
        "cpu" => r.NanoCpus > 0 || r.CpuShares > 0,
        "cpuset" => r.CpusetCpus.Length > 0 || r.CpusetMems.Length > 0,
        "pids" => r.PidsLimit > 0,
        _ => false,
    };

    /// <summary>
    /// Writes the limits to the container's cgroup <paramref name="dir"/>. A new cgroup is unlimited, so only set values
    /// are written (<paramref name="update"/> false); an update writes every value, an unset one back to "max".
    /// </summary>
    public static void Apply(string dir, CgroupResources r, bool update)
    {
        if (update || r.Memory > 0 || r.MemorySwap != 0)
        {
            // memory.swap.max is independent of memory.max in v2 (no ordering needed), but it may be absent (no swap
            // accounting): only a swap limit actually asked for needs it.
            Write(Path.Combine(dir, "memory.max"), r.Memory > 0 ? Num(r.Memory) : "max");
            string swapFile = Path.Combine(dir, "memory.swap.max");
            if (SwapMax(r.MemorySwap, r.Memory) is { } swap && (File.Exists(swapFile) || r.MemorySwap > 0)) Write(swapFile, swap);
        }
        if (update || r.MemoryReservation > 0)
            Write(Path.Combine(dir, "memory.low"), r.MemoryReservation > 0 ? Num(r.MemoryReservation) : "0");
        if (update || r.NanoCpus > 0)
            Write(Path.Combine(dir, "cpu.max"), (r.NanoCpus > 0 ? Num(r.CpuQuotaMicros) : "max") + " " + Num(CgroupResources.CpuPeriodMicros));
        if (update || r.CpuShares > 0)
            Write(Path.Combine(dir, "cpu.weight"), Num(r.CpuShares > 0 ? SharesToWeight(r.CpuShares) : 100));
        if (r.CpusetCpus.Length > 0) Write(Path.Combine(dir, "cpuset.cpus"), r.CpusetCpus);
        else if (update) Write(Path.Combine(dir, "cpuset.cpus"), ""); // empty: the parent's effective CPUs
        if (r.CpusetMems.Length > 0) Write(Path.Combine(dir, "cpuset.mems"), r.CpusetMems);
        else if (update) Write(Path.Combine(dir, "cpuset.mems"), "");
        if (update || r.PidsLimit > 0)
            Write(Path.Combine(dir, "pids.max"), r.PidsLimit > 0 ? Num(r.PidsLimit.Value) : "max");
    }

    /// <summary>
    /// Docker's --memory-swap is memory plus swap; v2's memory.swap.max is the swap alone (runc's
    /// ConvertMemorySwapToCgroupV2Value). Null: leave it as it is (0, not set).
    /// </summary>
    public static string? SwapMax(long memorySwap, long memory)
    {
        if (memorySwap == -1) return "max";
        if (memorySwap == 0) return null;
        if (memory <= 0) throw new CgroupException("unable to set a swap limit without a memory limit");
        if (memorySwap < memory) throw new CgroupException("the memory+swap limit should be larger than the memory limit");
        return Num(memorySwap - memory);
    }

    /// <summary>cpu.shares (2..262144, default 1024) to cpu.weight (1..10000, default 100), runc's linear map.</summary>
    public static long SharesToWeight(long shares)
    {
        if (shares == 0) return 100;
        shares = Math.Clamp(shares, 2, 262144);
        return 1 + (shares - 2) * 9999 / 262142;
    }

    /// <summary>Whether the OOM killer killed a process of the cgroup (memory.events "oom_kill N").</summary>
    public static bool OomKilled(string dir) => ReadKeyed(Path.Combine(dir, "memory.events")).GetValueOrDefault("oom_kill") > 0;

    /// <summary>The cgroup's counters, in <see cref="CgroupStats"/>'s units (null when the cgroup is gone).</summary>
    public static CgroupStats? Stats(string dir)
    {
        if (!Directory.Exists(dir)) return null;
        var cpu = ReadKeyed(Path.Combine(dir, "cpu.stat"));
        ulong usage = ReadNumber(Path.Combine(dir, "memory.current"));
        ulong inactive = ReadKeyed(Path.Combine(dir, "memory.stat")).GetValueOrDefault("inactive_file");
        ulong read = 0, write = 0;
        // "8:0 rbytes=1459200 wbytes=314773504 rios=192 wios=353 dbytes=0 dios=0" per device.
        foreach (var line in Read(Path.Combine(dir, "io.stat")).Split('\n'))
            foreach (var field in line.Split(' ').Skip(1))
            {
                var kv = field.Split('=');
                if (kv.Length != 2 || !ulong.TryParse(kv[1], out var n)) continue;
                if (kv[0] == "rbytes") read += n;
                else if (kv[0] == "wbytes") write += n;
            }
        return new CgroupStats(
            CpuUsageNanos: cpu.GetValueOrDefault("usage_usec") * 1000,
            MemoryUsage: usage > inactive ? usage - inactive : usage,
            MemoryLimit: ReadNumber(Path.Combine(dir, "memory.max")), // "max" reads as 0: none
            Pids: ReadNumber(Path.Combine(dir, "pids.current")),
            PidsLimit: ReadNumber(Path.Combine(dir, "pids.max")),
            BlockRead: read, BlockWrite: write,
            CpuThrottledPeriods: cpu.GetValueOrDefault("nr_throttled"));
    }

    private static string Read(string path)
    {
        try { return File.ReadAllText(path).Trim(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return ""; }
    }

    private static ulong ReadNumber(string path) => ulong.TryParse(Read(path), out var n) ? n : 0;

    private static Dictionary<string, ulong> ReadKeyed(string path)
    {
        var result = new Dictionary<string, ulong>();
        foreach (var line in Read(path).Split('\n'))
        {
            var f = line.Split(' ', 2);
            if (f.Length == 2 && ulong.TryParse(f[1], out var v)) result[f[0]] = v;
        }
        return result;
    }

    /// <summary>One write(2) of the whole value, as the kernel wants for an interface file (O_TRUNC is ignored by
    /// cgroupfs and keeps a fake tree's files exact). A file that does not exist is an error, not created.</summary>
    private static void Write(string path, string value)
    {
        try
        {
            using var fd = Fd.Open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
            fd.WriteAll(Encoding.ASCII.GetBytes(value));
        }
        catch (SyscallException e)
        {
            throw new CgroupException($"cannot write \"{value}\" to {path}: {System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage((int)e.Errno)}", e);
        }
    }

    private static string Num(long n) => n.ToString(CultureInfo.InvariantCulture);
}

using System.Text.Json;
using MiniDocker.Linux;

namespace MiniDocker.Runtime.Userns;

/// <summary>The host ids a container's ids 0..Size-1 map to (uid_map "0 HostUid Size", gid_map "0 HostGid Size").</summary>
public sealed record IdMapping(long HostUid, long HostGid, long Size);

/// <summary>One container's range in the allocation file.</summary>
public sealed class IdAllocation
{
    public string ContainerId { get; set; } = "";
    public long HostUid { get; set; }
    public long HostGid { get; set; }
    public long Size { get; set; }
}

/// <summary>
/// --userns=auto: ranges for containers, cut from the subordinate ids /etc/subuid and /etc/subgid give the user
/// <see cref="SubidUser"/>. A user of its own (as Podman's "containers"), not root's entry: the admin sees in one place
/// which host ids belong to containers, and useradd, which hands new users ranges after the existing ones, never gives
/// a login user ids that a container runs as (the container could then signal or ptrace that user's processes). The
/// user needs no passwd entry. Allocations live in &lt;root&gt;/userns/allocations.json, changed under its lock, so
/// concurrent runs get disjoint ranges; an entry whose container is gone (removed by hand) is dropped on the next
/// allocation.
/// </summary>
public static class IdRanges
{
    public const string SubidUser = "minidocker";
    public const int DefaultSize = 65536;
    public const string SubuidFile = "/etc/subuid", SubgidFile = "/etc/subgid";

    /// <summary>The ranges "NAME:START:COUNT" lines give <paramref name="user"/> (name or uid), in file order.</summary>
    public static List<(long Start, long Count)> Parse(string content, string user)
    {
        var ranges = new List<(long, long)>();
        foreach (var raw in content.Split('\n'))
        {
            var parts = raw.Trim().Split(':');
            if (parts.Length != 3 || parts[0] != user) continue;
            if (long.TryParse(parts[1], out long start) && long.TryParse(parts[2], out long count) && start >= 0 && count > 0)
                ranges.Add((start, count));
        }
        return ranges;
    }

    /// <summary>The lowest start of <paramref name="size"/> ids inside one of <paramref name="ranges"/> that overlaps none
    /// of <paramref name="taken"/>; null when there is none.</summary>
    public static long? FirstFit(IEnumerable<(long Start, long Count)> ranges, IEnumerable<(long Start, long Count)> taken, long size)
    {
        var used = taken.OrderBy(t => t.Start).ToList();
        foreach (var (start, count) in ranges)
        {
            long candidate = start, end = start + count;
            foreach (var (usedStart, usedCount) in used)
            {
                if (usedStart + usedCount <= candidate) continue;
                if (usedStart >= candidate + size) break;
                candidate = usedStart + usedCount; // overlaps: try just after it
            }
            if (candidate + size <= end) return candidate;
        }
        return null;
    }

    private static string Dir(string root) => Path.Combine(root, "userns");
    private static string FilePath(string root) => Path.Combine(Dir(root), "allocations.json");

    /// <summary>The container's range: the one it holds, else a new one of <paramref name="size"/> ids.</summary>
    public static IdMapping Allocate(string root, string containersDir, string containerId, long size)
    {
        StateRoot.PrivateDirectory(Dir(root));
        using var _ = FileLock.Acquire(Path.Combine(Dir(root), ".lock"));
        var all = Load(root).Where(a => a.ContainerId == containerId || Directory.Exists(Path.Combine(containersDir, a.ContainerId))).ToList();
        if (all.FirstOrDefault(a => a.ContainerId == containerId) is { } held) return new IdMapping(held.HostUid, held.HostGid, held.Size);
        long uid = Pick(SubuidFile, all.Select(a => (a.HostUid, a.Size)), size, all.Count);
        long gid = Pick(SubgidFile, all.Select(a => (a.HostGid, a.Size)), size, all.Count);
        all.Add(new IdAllocation { ContainerId = containerId, HostUid = uid, HostGid = gid, Size = size });
        Save(root, all);
        return new IdMapping(uid, gid, size);
    }

    /// <summary>Gives the container's range back (rm, or the undo of a first start that failed).</summary>
    public static void Release(string root, string containerId)
    {
        if (!File.Exists(FilePath(root))) return;
        using var _ = FileLock.Acquire(Path.Combine(Dir(root), ".lock"));
        var all = Load(root);
        if (all.RemoveAll(a => a.ContainerId == containerId) > 0) Save(root, all);
    }

    /// <summary>Every container's range (tests and inspect of the whole root).</summary>
    public static List<IdAllocation> Load(string root)
    {
        try { return JsonSerializer.Deserialize(File.ReadAllBytes(FilePath(root)), RuntimeJson.Default.ListIdAllocation) ?? []; }
        catch (FileNotFoundException) { return []; }
        catch (DirectoryNotFoundException) { return []; }
    }

    private static void Save(string root, List<IdAllocation> all) =>
        AtomicFile.Write(FilePath(root), JsonSerializer.SerializeToUtf8Bytes(all, RuntimeJson.Default.ListIdAllocation), true, mode: 0b110_000_000);

    private static long Pick(string file, IEnumerable<(long, long)> taken, long size, int holders)
    {
        string content;
        try { content = File.ReadAllText(file); }
        catch (FileNotFoundException) { content = ""; }
        var ranges = Parse(content, SubidUser);
        if (ranges.Count == 0)
            throw new ContainerException($"--userns=auto needs subordinate ids for the user \"{SubidUser}\" in {file} " +
                $"(scripts/setup.sh adds them; by hand: echo {SubidUser}:<start>:<count> >> {file})");
        return FirstFit(ranges, taken, size) ?? throw new ContainerException(
            $"--userns=auto: no free range of {size} ids left in {file} for \"{SubidUser}\" " +
            $"({holders} containers hold ranges; remove some, or give {SubidUser} more ids)");
    }
}

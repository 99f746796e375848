using System.Text.Json;
using MiniDocker.Linux;

namespace MiniDocker.Runtime.Userns;

/// <summary>The host ids a container's ids 0..Size-1 map to (uid_map "0 HostUid Size", gid_map "0 HostGid Size").</summary>
public sealed record IdMapping(long HostUid, long HostGid, long Size);

/// <summary>One container's range in the allocation file.</summary>
public sealed class IdAllocation
{
    /// <summary>The containers directory of the container's state root.</summary>
    public string ContainersDir { get; set; } = "";
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
/// user needs no passwd entry. Allocations live in one host-wide file, <see cref="StateDir"/>/allocations.json, changed
/// under its lock, so concurrent runs get disjoint ranges, also runs of different state roots (--root): host ids are
/// the host's, and two containers of two roots sharing a range could signal each other. It is persistent (not /run): a
/// stopped container keeps its range across a reboot, its upper directory's files are owned by it. An entry whose
/// container is gone (removed by hand, or with its whole root) is dropped on the next allocation.
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

    /// <summary>Host-wide (see the class summary); MINIDOCKER_USERNS_STATE moves it.</summary>
    public static string StateDir => Environment.GetEnvironmentVariable("MINIDOCKER_USERNS_STATE") is { Length: > 0 } d ? d : "/var/lib/minidocker-userns";
    private static string FilePath => Path.Combine(StateDir, "allocations.json");
    private static bool Is(IdAllocation a, string containersDir, string containerId) =>
        a.ContainerId == containerId && a.ContainersDir == Path.GetFullPath(containersDir);

    /// <summary>The container's range: the one it holds, else <paramref name="recorded"/> (its state's, from an earlier
    /// start: registered again if the file lost it, as long as no other container took it meanwhile), else a new one of
    /// <paramref name="size"/> ids.</summary>
    public static IdMapping Allocate(string containersDir, string containerId, long size, IdMapping? recorded = null)
    {
        StateRoot.PrivateDirectory(StateDir);
        using var _ = FileLock.Acquire(Path.Combine(StateDir, ".lock"));
        var all = Load().Where(a => Is(a, containersDir, containerId) || Directory.Exists(Path.Combine(a.ContainersDir, a.ContainerId))).ToList();
        if (all.FirstOrDefault(a => Is(a, containersDir, containerId)) is { } held) return new IdMapping(held.HostUid, held.HostGid, held.Size);
        if (recorded is not null)
        {
            bool Overlaps(long a, long b) => a < b + recorded.Size && b < a + recorded.Size;
            if (all.Any(a => Overlaps(a.HostUid, recorded.HostUid) || Overlaps(a.HostGid, recorded.HostGid)))
                throw new ContainerException($"the container's id range {recorded.HostUid}-{recorded.HostUid + recorded.Size - 1} is held by another container now");
            all.Add(new IdAllocation { ContainersDir = Path.GetFullPath(containersDir), ContainerId = containerId, HostUid = recorded.HostUid, HostGid = recorded.HostGid, Size = recorded.Size });
            Save(all);
            return recorded;
        }
        long uid = Pick(SubuidFile, all.Select(a => (a.HostUid, a.Size)), size, all.Count);
        long gid = Pick(SubgidFile, all.Select(a => (a.HostGid, a.Size)), size, all.Count);
        all.Add(new IdAllocation { ContainersDir = Path.GetFullPath(containersDir), ContainerId = containerId, HostUid = uid, HostGid = gid, Size = size });
        Save(all);
        return new IdMapping(uid, gid, size);
    }

    /// <summary>Gives the container's range back (rm, or the undo of a first start that failed).</summary>
    public static void Release(string containersDir, string containerId)
    {
        if (!File.Exists(FilePath)) return;
        using var _ = FileLock.Acquire(Path.Combine(StateDir, ".lock"));
        var all = Load();
        if (all.RemoveAll(a => Is(a, containersDir, containerId)) > 0) Save(all);
    }

    /// <summary>Every container's range, of every state root.</summary>
    public static List<IdAllocation> Load()
    {
        try { return JsonSerializer.Deserialize(File.ReadAllBytes(FilePath), RuntimeJson.Default.ListIdAllocation) ?? []; }
        catch (FileNotFoundException) { return []; }
        catch (DirectoryNotFoundException) { return []; }
    }

    private static void Save(List<IdAllocation> all) =>
        AtomicFile.Write(FilePath, JsonSerializer.SerializeToUtf8Bytes(all, RuntimeJson.Default.ListIdAllocation), true, mode: 0b110_000_000);

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

using System.Security.Cryptography;

namespace MiniDocker.IntegrationTests.Reliability;

/// <summary>Every file and directory under a state root with its mode, size and content hash: "unchanged" made
/// checkable. Lock files and an empty trash directory are left out (neither is a change of state).</summary>
public sealed record Snapshot(IReadOnlyList<string> Entries)
{
    public static Snapshot Of(string root)
    {
        var entries = new List<string>();
        if (Directory.Exists(root))
        {
            foreach (var path in Directory.EnumerateFileSystemEntries(root, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }))
            {
                string rel = Path.GetRelativePath(root, path);
                if (Path.GetFileName(path) is ".lock" || rel.EndsWith(".lock", StringComparison.Ordinal)) continue;
                // The trash directory is part of the root's skeleton, made the first time anything is deleted: a run refused
                // after its record was written (an unknown network) leaves it, empty.
                if (rel == "trash" && !Directory.EnumerateFileSystemEntries(path).Any()) continue;
                var info = new FileInfo(path);
                if (info.LinkTarget is { } target) entries.Add($"{rel} -> {target}");
                else if (Directory.Exists(path)) entries.Add($"{rel}/ {Convert.ToString((int)File.GetUnixFileMode(path), 8)}");
                else entries.Add($"{rel} {Convert.ToString((int)info.UnixFileMode, 8)} {info.Length} {Hash(path)}");
            }
        }
        entries.Sort(StringComparer.Ordinal);
        return new Snapshot(entries);
    }

    public Snapshot Without(string prefix) => new(Entries.Where(e => !e.StartsWith(prefix, StringComparison.Ordinal)).ToList());

    public bool Equals(Snapshot? other) => other is not null && Entries.SequenceEqual(other.Entries);
    public override int GetHashCode() => Entries.Count;
    public override string ToString() => string.Join("\n", Entries);

    /// <summary>What differs, for an assertion message.</summary>
    public string Diff(Snapshot after) =>
        "gone: " + string.Join(", ", Entries.Except(after.Entries)) + "; new: " + string.Join(", ", after.Entries.Except(Entries));

    private static string Hash(string path)
    {
        try
        {
            using var f = File.OpenRead(path);
            return Convert.ToHexString(SHA256.HashData(f))[..16];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return "unreadable"; }
    }
}

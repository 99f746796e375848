using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace MiniDocker.Runtime;

/// <summary>
/// Containers on disk: <c>&lt;root&gt;/containers/&lt;64-hex id&gt;/</c> holding config.json, state.json, the overlay's
/// upper/work/merged directories and the files bind-mounted into /etc. Writers take <c>containers/.lock</c>.
/// </summary>
public sealed partial class ContainerStore
{
    public string Root { get; }
    public string ContainersDir { get; }

    public ContainerStore(string stateRoot)
    {
        Root = stateRoot;
        ContainersDir = Path.Combine(stateRoot, "containers");
        Directory.CreateDirectory(ContainersDir);
    }

    public string DirectoryOf(string id) => Path.Combine(ContainersDir, id);
    private IDisposable Lock() => AtomicFile.Lock(Path.Combine(ContainersDir, ".lock"));

    [GeneratedRegex("^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")]
    private static partial Regex NamePattern();

    public static string NewId() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));

    /// <summary>Creates the container's directory and its first state. The name is checked for uniqueness under
    /// the store lock, so two concurrent runs with one --name cannot both succeed.</summary>
    public void Create(ContainerConfig config)
    {
        if (config.Name.Length > 0 && !NamePattern().IsMatch(config.Name))
            throw new ContainerException($"invalid container name \"{config.Name}\": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
        using var _ = Lock();
        var existing = List();
        if (config.Name.Length == 0) config.Name = GenerateName(existing.Select(c => c.Config.Name).ToHashSet());
        else if (existing.Any(c => c.Config.Name == config.Name))
            throw new ContainerException($"the container name \"{config.Name}\" is already in use by container " +
                $"\"{existing.First(c => c.Config.Name == config.Name).Config.ShortId}\"");
        string dir = DirectoryOf(config.Id);
        Directory.CreateDirectory(dir);
        foreach (var sub in new[] { "upper", "work", "merged" }) Directory.CreateDirectory(Path.Combine(dir, sub));
        AtomicFile.Write(Path.Combine(dir, "config.json"), JsonSerializer.SerializeToUtf8Bytes(config, RuntimeJson.Default.ContainerConfig));
        SaveState(config.Id, new ContainerState { Status = ContainerStatus.Created });
    }

    public void SaveState(string id, ContainerState state) =>
        AtomicFile.Write(Path.Combine(DirectoryOf(id), "state.json"), JsonSerializer.SerializeToUtf8Bytes(state, RuntimeJson.Default.ContainerState));

    /// <summary>Read-modify-write of state.json under the store lock.</summary>
    public ContainerState UpdateState(string id, Action<ContainerState> change)
    {
        using var _ = Lock();
        var state = LoadState(id) ?? new ContainerState();
        change(state);
        SaveState(id, state);
        return state;
    }

    public ContainerConfig? LoadConfig(string id) => Read(Path.Combine(DirectoryOf(id), "config.json"), RuntimeJson.Default.ContainerConfig);
    public ContainerState? LoadState(string id) => Read(Path.Combine(DirectoryOf(id), "state.json"), RuntimeJson.Default.ContainerState);

    private static T? Read<T>(string path, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> info) where T : class
    {
        try { return JsonSerializer.Deserialize(File.ReadAllBytes(path), info); }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException) { return null; }
    }

    public sealed record Entry(ContainerConfig Config, ContainerState State);

    /// <summary>Every container whose config is readable; a half-made directory (a run killed mid-create) is skipped
    /// here and reported by <see cref="Orphans"/>.</summary>
    public IReadOnlyList<Entry> List()
    {
        var result = new List<Entry>();
        foreach (var dir in Directory.EnumerateDirectories(ContainersDir))
        {
            string id = Path.GetFileName(dir);
            var config = LoadConfig(id);
            if (config is null) continue;
            result.Add(new Entry(config, LoadState(id) ?? new ContainerState { Status = ContainerStatus.Created }));
        }
        return result;
    }

    /// <summary>Directories without a readable config: left by a run that was killed while creating.</summary>
    public IReadOnlyList<string> Orphans() =>
        Directory.EnumerateDirectories(ContainersDir).Where(d => LoadConfig(Path.GetFileName(d)) is null).ToList();

    /// <summary>Finds a container by full id, name, or unique id prefix, like Docker.</summary>
    public Entry Find(string reference)
    {
        var all = List();
        var byName = all.FirstOrDefault(e => e.Config.Id == reference || e.Config.Name == reference);
        if (byName is not null) return byName;
        var byPrefix = all.Where(e => e.Config.Id.StartsWith(reference, StringComparison.Ordinal)).ToList();
        if (reference.Length > 0 && byPrefix.Count == 1) return byPrefix[0];
        if (byPrefix.Count > 1) throw new ContainerException($"multiple containers match \"{reference}\": use more of the id");
        throw new ContainerException($"no such container: {reference}", 1);
    }

    public void Delete(string id)
    {
        using var _ = Lock();
        string dir = DirectoryOf(id);
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
    }

    private static readonly string[] Adjectives = ["brave", "calm", "eager", "fond", "gentle", "happy", "jolly", "keen",
        "lucid", "merry", "nifty", "proud", "quirky", "sharp", "tender", "upbeat", "vivid", "witty", "zealous", "bold"];
    private static readonly string[] Nouns = ["turing", "hopper", "lovelace", "ritchie", "thompson", "torvalds", "knuth",
        "dijkstra", "liskov", "lamport", "hamilton", "curie", "noether", "shannon", "babbage", "pike", "kay", "wirth"];

    private static string GenerateName(HashSet<string> taken)
    {
        for (int i = 0; ; i++)
        {
            string name = $"{Adjectives[Random.Shared.Next(Adjectives.Length)]}_{Nouns[Random.Shared.Next(Nouns.Length)]}";
            if (i > 50) name += $"{Random.Shared.Next(1000)}";
            if (!taken.Contains(name)) return name;
        }
    }
}

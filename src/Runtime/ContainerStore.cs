using System.Text.Json;
using System.Text.RegularExpressions;
using MiniDocker.Linux;
using MiniDocker.Runtime.Native;
using static MiniDocker.Linux.Libc;

namespace MiniDocker.Runtime;

/// <summary>
/// Containers on disk: <c>&lt;root&gt;/containers/&lt;64-hex id&gt;/</c> holding config.json, state.json, the overlay's
/// upper/work/merged directories and the files bind-mounted into /etc. Writers take <c>containers/.lock</c>.
/// <para>Whoever runs a container (its monitor, or the CLI of a foreground `run`) holds an exclusive flock on the
/// container's owner.lock for as long as it does. The kernel drops the lock when that process dies however it dies,
/// so "is somebody looking after this container" has a truthful answer even after kill -9 or a reboot.</para>
/// </summary>
public sealed partial class ContainerStore
{
    public string Root { get; }
    public string ContainersDir { get; }

    public ContainerStore(string stateRoot)
    {
        Root = stateRoot;
        ContainersDir = Path.Combine(stateRoot, "containers");
        StateRoot.PrivateDirectory(ContainersDir);
    }

    public string DirectoryOf(string id) => Path.Combine(ContainersDir, id);
    // Container state is rewritten several times per `run`; a directory fsync per write (a journal commit, ~3 ms) doubled
    // `run --rm true`. A lost last rename leaves what a crash leaves, which recovery handles (no live owner: exited).
    private const bool StateFsync = false;
    private IDisposable Lock() => FileLock.Acquire(Path.Combine(ContainersDir, ".lock"));
    private string OwnerLockPath(string id) => Path.Combine(DirectoryOf(id), "owner.lock");
    /// <summary>Removed containers are renamed here first (atomic: no command finds half of one), then deleted.</summary>
    private string TrashDir => Path.Combine(Root, "trash");

    private static bool IsId(string name) => name.Length == 64 && name.All(char.IsAsciiHexDigitLower);

    [GeneratedRegex("^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")]
    private static partial Regex NamePattern();

    public static string NewId() => Convert.ToHexStringLower(Libc.RandomBytes(32));

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
        try
        {
            // Owner only: upper/ holds what the container wrote (a setuid-root binary would run as root for any host
            // user who reached it), config.json its -e values.
            Directory.CreateDirectory(dir, StateRoot.PrivateMode);
            Directory.CreateDirectory(Path.Combine(dir, "work"), StateRoot.PrivateMode);
            // upper/ is the container's "/" as the container sees it (overlayfs takes the root's mode from the upper
            // layer): 0755 as an image's root, whatever the umask; dir above keeps host users out.
            foreach (var sub in new[] { "upper", "merged" })
            {
                string path = Path.Combine(dir, sub);
                Directory.CreateDirectory(path);
                File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
                    UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
            }
            // A --rm container does not outlive its run, so its definition skips the data fsync (a journal commit, 3-5 ms
            // of `run --rm`): after a power cut its config.json may be empty, which reads as missing, an orphan for prune.
            AtomicFile.Write(Path.Combine(dir, "config.json"), JsonSerializer.SerializeToUtf8Bytes(config, RuntimeJson.Default.ContainerConfig), StateFsync,
                mode: 0b110_000_000, fsyncFile: !config.AutoRemove);
            SaveState(config.Id, new ContainerState { Status = ContainerStatus.Created });
        }
        catch (Exception e) when (e is IOException or SyscallException)
        {
            // A full disk (or quota) while creating: no half-made container stays behind for ps and prune to trip on.
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
            throw new ContainerException($"cannot create the container's state in {dir}: {Reason(e)}", inner: e);
        }
    }

    /// <summary>state.json is what runs now (pid, status), void after a reboot, and rewritten four times per `run`: its data is
    /// not fsynced either (an fsync is a journal commit, ~3 ms each, a sixth of `run --rm true`). A process killed
    /// mid-write still leaves the old or the new file (the rename); a power cut may leave an empty one, read as
    /// <see cref="LostState"/>. config.json, the container's definition, keeps its fsync (but for --rm, see Create).</summary>
    public void SaveState(string id, ContainerState state) =>
        AtomicFile.Write(Path.Combine(DirectoryOf(id), "state.json"), JsonSerializer.SerializeToUtf8Bytes(state, RuntimeJson.Default.ContainerState), StateFsync, fsyncFile: false);

    /// <summary>What an empty state.json (a power cut after an unsynced rename) says: every process of the container
    /// went with the machine, so it has exited, and how is not known.</summary>
    internal static ContainerState LostState() => new()
    {
        Status = ContainerStatus.Exited,
        ExitCode = ExitCodes.RuntimeError,
        Error = "the container's state was lost in a system crash",
    };

    /// <summary>Read-modify-write of state.json under the store lock.</summary>
    public ContainerState UpdateState(string id, Action<ContainerState> change)
    {
        using var _ = Lock();
        var state = LoadState(id) ?? new ContainerState();
        change(state);
        SaveState(id, state);
        return state;
    }

    /// <summary>Takes ownership of the container (see the class summary); null when another process has it. Throws
    /// when the container no longer exists: it is checked after the lock is taken, because a `rm` that held the
    /// lock may have removed it meanwhile.</summary>
    public Fd? TryClaim(string id)
    {
        Fd fd;
        try { fd = Fd.Open(OwnerLockPath(id), O_RDWR | O_CREAT, 0x180); }
        catch (SyscallException e) when (e.Errno == Errno.ENOENT) { throw NoSuch(id); }
        while (flock(fd.Value, LOCK_EX | LOCK_NB) == -1)
        {
            int errno = LastErrno;
            if (errno == EINTR) continue;
            fd.Dispose();
            if (errno == EWOULDBLOCK) return null;
            throw new SyscallException("flock", OwnerLockPath(id), errno);
        }
        if (!File.Exists(Path.Combine(DirectoryOf(id), "config.json"))) { fd.Dispose(); throw NoSuch(id); }
        return fd;
    }

    /// <summary><see cref="TryClaim"/>, retried until <paramref name="patience"/> runs out: the owner may be a
    /// command that is just finishing, or another command probing the lock for a moment.</summary>
    public Fd Claim(string id, TimeSpan patience)
    {
        var deadline = DateTime.UtcNow + patience;
        while (true)
        {
            if (TryClaim(id) is { } claim) return claim;
            if (DateTime.UtcNow >= deadline)
                throw new ContainerException($"container {id[..12]} is busy: another minidocker command is starting, stopping or removing it");
            Thread.Sleep(10);
        }
    }

    /// <summary>Whether a live process owns the container. A probe with a shared lock taken and dropped at once.</summary>
    public bool IsOwned(string id)
    {
        int fd = open(OwnerLockPath(id), O_RDONLY | O_CLOEXEC, 0);
        if (fd == -1) return false; // never started, or being removed
        try { return flock(fd, LOCK_SH | LOCK_NB) == -1 && LastErrno == EWOULDBLOCK; }
        finally { close(fd); }
    }

    /// <summary>Blocks until no process owns the container (returns at once if none does).</summary>
    public void WaitUntilUnowned(string id)
    {
        int fd = open(OwnerLockPath(id), O_RDONLY | O_CLOEXEC, 0);
        if (fd == -1) return;
        try
        {
            // Held only for the moment it takes to close: a monitor claiming the container retries over it.
            while (flock(fd, LOCK_SH) == -1 && LastErrno == EINTR) { }
        }
        finally { close(fd); }
    }

    private static NoSuchContainerException NoSuch(string reference) => new(reference);

    private static string Reason(Exception e) => e is SyscallException s
        ? System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage((int)s.Errno) : e.Message;

    /// <summary>`rename`: the new name is checked for uniqueness under the store lock, like <see cref="Create"/>.</summary>
    public void Rename(string id, string newName)
    {
        if (!NamePattern().IsMatch(newName))
            throw new ContainerException($"invalid container name \"{newName}\": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", 1);
        using var _ = Lock();
        var config = LoadConfig(id) ?? throw NoSuch(id);
        if (config.Name == newName)
            throw new ContainerException("renaming a container with the same name as its current name", 1);
        if (List().FirstOrDefault(c => c.Config.Name == newName) is { } other)
            throw new ContainerException($"the container name \"{newName}\" is already in use by container \"{other.Config.ShortId}\"", 1);
        config.Name = newName;
        AtomicFile.Write(Path.Combine(DirectoryOf(id), "config.json"), JsonSerializer.SerializeToUtf8Bytes(config, RuntimeJson.Default.ContainerConfig), StateFsync, mode: 0b110_000_000);
    }

    /// <summary>Read-modify-write of config.json under the store lock (`update`); returns the new config.</summary>
    public ContainerConfig UpdateConfig(string id, Action<ContainerConfig> change)
    {
        using var _ = Lock();
        var config = LoadConfig(id) ?? throw NoSuch(id);
        change(config);
        AtomicFile.Write(Path.Combine(DirectoryOf(id), "config.json"), JsonSerializer.SerializeToUtf8Bytes(config, RuntimeJson.Default.ContainerConfig), StateFsync, mode: 0b110_000_000);
        return config;
    }

    // An empty config.json is a --rm container's unsynced config after a power cut (see Create): like a missing one, an
    // orphan. An empty state.json is state lost the same way.
    public ContainerConfig? LoadConfig(string id) => Read(Path.Combine(DirectoryOf(id), "config.json"), RuntimeJson.Default.ContainerConfig, () => null);
    public ContainerState? LoadState(string id) => Read(Path.Combine(DirectoryOf(id), "state.json"), RuntimeJson.Default.ContainerState, LostState);

    /// <summary>Null when the file is missing (a run killed while creating); a record that exists but does not parse
    /// is refused, naming the file: read as missing, prune would delete the directory of a container that runs and
    /// `ps` would hide it, leaving its processes, veth and mounts with nothing to remove them.</summary>
    private static T? Read<T>(string path, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> info, Func<T?> whenEmpty) where T : class
    {
        try
        {
            var content = File.ReadAllBytes(path);
            return content.Length == 0 ? whenEmpty() : JsonSerializer.Deserialize(content, info);
        }
        catch (JsonException) { throw new ContainerException($"state file {path} is corrupt: repair or remove it"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }

    public sealed record Entry(ContainerConfig Config, ContainerState State);

    /// <summary>Whether a container with this full id, or id prefix, has a directory (made, running or being removed).</summary>
    public bool Exists(string idOrPrefix) =>
        idOrPrefix.Length > 0 && Directory.Exists(ContainersDir) && Directory.EnumerateDirectories(ContainersDir, idOrPrefix + "*").Any();

    /// <summary>Every container whose config is readable; a half-made directory (a run killed mid-create) is skipped
    /// here and reported by <see cref="Orphans"/>.</summary>
    public IReadOnlyList<Entry> List()
    {
        var result = new List<Entry>();
        foreach (var dir in Directory.EnumerateDirectories(ContainersDir))
        {
            string id = Path.GetFileName(dir);
            if (!IsId(id)) continue;
            var config = LoadConfig(id);
            if (config is null) continue;
            result.Add(new Entry(config, LoadState(id) ?? new ContainerState { Status = ContainerStatus.Created }));
        }
        return result;
    }

    /// <summary>Directories without a readable config (left by a run that was killed while creating), and removals
    /// that were killed half-way.</summary>
    public IReadOnlyList<string> Orphans()
    {
        using var _ = Lock(); // a Create in progress holds the lock: its directory is not an orphan
        var half = Directory.EnumerateDirectories(ContainersDir).Where(d => LoadConfig(Path.GetFileName(d)) is null);
        var trash = Directory.Exists(TrashDir) ? Directory.EnumerateDirectories(TrashDir) : [];
        return half.Concat(trash).ToList();
    }

    /// <summary>Deletes what <see cref="Orphans"/> lists; returns the bytes freed.</summary>
    public long RemoveOrphans()
    {
        long freed = 0;
        foreach (var dir in Orphans())
        {
            freed += SizeOf(dir);
            string name = Path.GetFileName(dir);
            if (IsId(name)) MoveToTrash(name);
            else DeleteTree(dir);
        }
        EmptyTrash();
        return freed;
    }

    public static long SizeOf(string dir)
    {
        try
        {
            return new DirectoryInfo(dir).EnumerateFiles("*", new EnumerationOptions
            { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.ReparsePoint, IgnoreInaccessible = true }).Sum(f => f.Length);
        }
        catch (IOException) { return 0; }
    }

    /// <summary>Finds a container by full id, name, or unique id prefix, like Docker.</summary>
    public Entry Find(string reference)
    {
        // Docker: an empty reference names nothing (it is a prefix of every id).
        if (reference.Length == 0) throw new ContainerException("invalid container name or ID: value is empty", 1);
        var all = List();
        var byName = all.FirstOrDefault(e => e.Config.Id == reference || e.Config.Name == reference);
        if (byName is not null) return byName;
        var byPrefix = all.Where(e => e.Config.Id.StartsWith(reference, StringComparison.Ordinal)).ToList();
        if (reference.Length > 0 && byPrefix.Count == 1) return byPrefix[0];
        if (byPrefix.Count > 1) throw new ContainerException($"multiple containers match \"{reference}\": use more of the id");
        throw NoSuch(reference);
    }

    /// <summary>Renames the directory out of <see cref="ContainersDir"/> under the store lock (after that no command
    /// finds the container, whatever happens next), then deletes it.</summary>
    public void Delete(string id)
    {
        MoveToTrash(id);
        Userns.IdRanges.Release(ContainersDir, id); // --userns=auto: its host ids are free for the next container
        EmptyTrash();
    }

    private void MoveToTrash(string id)
    {
        using var _ = Lock();
        string dir = DirectoryOf(id);
        if (!Directory.Exists(dir)) return;
        StateRoot.PrivateDirectory(TrashDir); // a container on its way out still has its files
        Directory.Move(dir, Path.Combine(TrashDir, $"{id}.{Environment.ProcessId}.{Environment.CurrentManagedThreadId}"));
    }

    private void EmptyTrash()
    {
        if (!Directory.Exists(TrashDir)) return;
        foreach (var dir in Directory.EnumerateDirectories(TrashDir)) DeleteTree(dir);
    }

    // Two commands may empty the trash at once: whatever the other deleted first is not an error.
    private static void DeleteTree(string dir)
    {
        try { Directory.Delete(dir, recursive: true); }
        catch (DirectoryNotFoundException) { }
        catch (IOException) when (!Directory.Exists(dir)) { }
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

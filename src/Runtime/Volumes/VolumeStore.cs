using System.Text.Json;
using System.Text.Json.Serialization;
using MiniDocker.Linux;

namespace MiniDocker.Runtime.Volumes;

/// <summary>A named (or anonymous) volume: ROOT/volumes/NAME/volume.json, its data in ROOT/volumes/NAME/_data.</summary>
public sealed class VolumeRecord
{
    public string Name { get; set; } = "";
    public DateTimeOffset CreatedAt { get; set; }
    /// <summary>Made for one container by `-v /PATH` (a generated name): `rm -v`, `run --rm` and `volume prune` remove it.</summary>
    public bool Anonymous { get; set; }
    /// <summary>Podman's NeedsChown: set when the volume is made, cleared at the first start of a container that mounts
    /// it. A --userns=auto container starting first moves it into its range (<see cref="VolumeOwnership"/>); any other
    /// first user leaves it as it is, and no later container chowns it again (it could take files from a running one).
    /// Volumes made before this field existed have it false.</summary>
    public bool NeedsChown { get; set; }
    public Dictionary<string, string> Labels { get; set; } = new();
}

[JsonSourceGenerationOptions(WriteIndented = true)]
[JsonSerializable(typeof(VolumeRecord))]
internal sealed partial class VolumeJson : JsonSerializerContext;

/// <summary>Thrown for `volume` verbs' refusals, with Docker's exit status 1.</summary>
public sealed class VolumeException(string message) : MiniDockerException(message, 1);

/// <summary>
/// The "local" volume driver's store, laid out like Docker's /var/lib/docker/volumes. ROOT/volumes is 0700: a
/// container's root can put setuid binaries and device nodes in a volume, and no host user but root may reach them.
/// One lock (ROOT/volumes/.lock) orders create, rm, prune and a run's use of a volume, so `volume rm` never removes a
/// volume a container is being created with.
/// </summary>
public sealed class VolumeStore(string stateRoot)
{
    public string Directory => Path.Combine(stateRoot, "volumes");

    public string DirectoryOf(string name) => Path.Combine(Directory, name);
    public string DataPath(string name) => Path.Combine(DirectoryOf(name), "_data");
    private string MetadataPath(string name) => Path.Combine(DirectoryOf(name), "volume.json");

    public FileLock Lock()
    {
        StateRoot.PrivateDirectory(Directory);
        return FileLock.Acquire(Path.Combine(Directory, ".lock"));
    }

    public VolumeRecord? TryGet(string name)
    {
        if (!MountParser.IsValidVolumeName(name)) return null;
        string path = MetadataPath(name);
        if (!File.Exists(path)) return null;
        return JsonSerializer.Deserialize(File.ReadAllBytes(path), VolumeJson.Default.VolumeRecord);
    }

    public VolumeRecord Get(string name) => TryGet(name) ?? throw new VolumeException($"get {name}: no such volume");

    public IReadOnlyList<VolumeRecord> List()
    {
        if (!System.IO.Directory.Exists(Directory)) return [];
        return System.IO.Directory.EnumerateDirectories(Directory).Select(Path.GetFileName)
            .Where(n => n is not null && !n.StartsWith('.')).Select(n => TryGet(n!)).OfType<VolumeRecord>()
            .OrderBy(v => v.Name, StringComparer.Ordinal).ToList();
    }

    /// <summary>`volume create [NAME]`: an existing volume of that name is returned as it is (Docker). The caller
    /// holds <see cref="Lock"/>.</summary>
    public (VolumeRecord Volume, bool Created) CreateLocked(string? name, bool anonymous, IReadOnlyDictionary<string, string>? labels = null)
    {
        name ??= ContainerStore.NewId();
        MountParser.CheckVolumeName(name);
        if (TryGet(name) is { } existing) return (existing, false);
        string dir = DirectoryOf(name);
        // The volume's own directory is 0700 like the store; _data is what the container sees as the mount's root: 0755
        // as Docker makes it (and copy-up then gives it the image directory's owner and mode).
        System.IO.Directory.CreateDirectory(dir, StateRoot.PrivateMode);
        string data = DataPath(name);
        if (!System.IO.Directory.Exists(data)) System.IO.Directory.CreateDirectory(data);
        File.SetUnixFileMode(data, (UnixFileMode)0b111_101_101);
        var record = new VolumeRecord { Name = name, CreatedAt = DateTimeOffset.UtcNow, Anonymous = anonymous, NeedsChown = true, Labels = labels?.ToDictionary() ?? new() };
        // Written last: a volume without its metadata (a crash midway) is not listed and is made again on next use.
        Save(record);
        return (record, true);
    }

    private void Save(VolumeRecord record) =>
        AtomicFile.Write(MetadataPath(record.Name), JsonSerializer.SerializeToUtf8Bytes(record, VolumeJson.Default.VolumeRecord), fsyncDirectory: true, mode: 0b110_000_000);

    /// <summary>
    /// At a container's start, before its init exists: each of its volumes that no container has mounted yet
    /// (<see cref="VolumeRecord.NeedsChown"/>) is given to <paramref name="ids"/>' range when the container has one,
    /// and is marked as mounted either way. The mark is written before the walk: a walk cut short is not redone, as
    /// it would shift the ids it already shifted a second time.
    /// </summary>
    public void FirstMount(ContainerConfig config, Userns.IdMapping? ids)
    {
        var names = config.Mounts.Where(m => m.IsVolume).Select(m => m.Source).Distinct().ToList();
        if (names.Count == 0) return;
        using var _ = Lock();
        foreach (var name in names)
        {
            if (TryGet(name) is not { NeedsChown: true } volume) continue;
            volume.NeedsChown = false;
            Save(volume);
            if (ids is not null) VolumeOwnership.ShiftIntoRange(DataPath(name), ids);
        }
    }

    public VolumeRecord Create(string? name, IReadOnlyDictionary<string, string>? labels = null)
    {
        using var _ = Lock();
        return CreateLocked(name, anonymous: false, labels).Volume;
    }

    /// <summary>Ids of the containers (any state) whose config mounts <paramref name="name"/>.</summary>
    public static List<string> Users(string name, IEnumerable<ContainerConfig> containers) =>
        containers.Where(c => c.Mounts.Any(m => m.IsVolume && m.Source == name)).Select(c => c.Id).ToList();

    /// <summary>`volume rm`: refused while a container (running or not) uses it, in Docker's words.</summary>
    public void Remove(string name, bool force, Func<IEnumerable<ContainerConfig>> containers)
    {
        using var _ = Lock();
        if (TryGet(name) is null)
        {
            if (force) return;
            throw new VolumeException($"get {name}: no such volume");
        }
        var users = Users(name, containers());
        if (users.Count > 0) throw new VolumeException($"remove {name}: volume is in use - [{string.Join(", ", users)}]");
        DeleteLocked(name);
    }

    /// <summary>`volume prune`: unused anonymous volumes, or with <paramref name="all"/> every unused one. Returns the
    /// names removed and the bytes freed.</summary>
    public (List<string> Removed, long Bytes) Prune(bool all, Func<IEnumerable<ContainerConfig>> containers)
    {
        using var _ = Lock();
        var configs = containers().ToList();
        var removed = new List<string>();
        long bytes = 0;
        foreach (var volume in List())
        {
            if (!all && !volume.Anonymous) continue;
            if (Users(volume.Name, configs).Count > 0) continue;
            bytes += ContainerStore.SizeOf(DirectoryOf(volume.Name));
            DeleteLocked(volume.Name);
            removed.Add(volume.Name);
        }
        return (removed, bytes);
    }

    /// <summary>`rm -v` / `run --rm`: the container's anonymous volumes, unless another container uses one too.</summary>
    public void RemoveAnonymousOf(ContainerConfig config, Func<IEnumerable<ContainerConfig>> containers)
    {
        var anonymous = config.Mounts.Where(m => m.IsVolume && m.Anonymous).Select(m => m.Source).ToList();
        if (anonymous.Count == 0) return;
        using var _ = Lock();
        var others = containers().Where(c => c.Id != config.Id).ToList();
        foreach (var name in anonymous)
        {
            if (TryGet(name) is null) continue;
            if (Users(name, others).Count > 0)
            {
                Console.Error.WriteLine($"minidocker: volume {name} is in use by another container: kept");
                continue;
            }
            DeleteLocked(name);
        }
    }

    /// <summary>After a container of <paramref name="store"/> was deleted: its anonymous volumes go too.</summary>
    public static void RemoveAnonymousOf(ContainerStore store, ContainerConfig config)
    {
        if (config.Mounts.Any(m => m.IsVolume && m.Anonymous))
            new VolumeStore(store.Root).RemoveAnonymousOf(config, () => store.List().Select(e => e.Config));
    }

    /// <summary>Moved aside first (the name is free at once, and a crash leaves a dot-directory nobody lists), then
    /// deleted. Directory.Delete does not follow symlinks the container made in _data.</summary>
    private void DeleteLocked(string name)
    {
        string trash = Path.Combine(Directory, $".removing-{name}-{Environment.ProcessId}");
        System.IO.Directory.Move(DirectoryOf(name), trash);
        AtomicFile.FsyncDirectory(Directory);
        System.IO.Directory.Delete(trash, recursive: true);
    }

    /// <summary>
    /// For `run`, under <see cref="Lock"/> (held by the caller until the container is recorded): every volume mount gets
    /// its volume (made now if missing, a generated name for an anonymous one) and every bind a checked source; a new
    /// or empty volume is filled from the image's directory at its target, as Docker does, unless nocopy.
    /// </summary>
    public void PrepareLocked(ContainerConfig config)
    {
        foreach (var mount in config.Mounts)
        {
            switch (mount.Type)
            {
                case MountType.Volume:
                    var (volume, _) = CreateLocked(mount.Anonymous ? null : mount.Source, mount.Anonymous);
                    mount.Source = volume.Name;
                    mount.HostPath = DataPath(volume.Name);
                    if (!mount.NoCopy && !System.IO.Directory.EnumerateFileSystemEntries(mount.HostPath).Any())
                        VolumeCopyUp.FromImage(config.RootfsLower, mount.Target, mount.HostPath);
                    break;
                case MountType.Bind:
                    if (!Path.Exists(mount.Source))
                    {
                        if (!mount.CreateMissingSource)
                            throw new ContainerException($"invalid mount config for type \"bind\": bind source path does not exist: {mount.Source}");
                        // -v makes a missing source directory (Docker's legacy behaviour, kept for compatibility).
                        System.IO.Directory.CreateDirectory(mount.Source);
                    }
                    mount.HostPath = mount.Source;
                    break;
            }
        }
    }
}

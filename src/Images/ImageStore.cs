using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using MiniDocker.Linux;

namespace MiniDocker.Images;

/// <summary>One NAME:TAG (or an untagged layer, shown as &lt;none&gt;) with its layer's facts and its config.</summary>
public sealed record ImageRecord(string Id, string Repository, string Tag, DateTimeOffset Created, long Size, ImageConfig Config)
{
    /// <summary>REPOSITORY@sha256:... of a pulled image (empty for an imported one).</summary>
    public IReadOnlyList<string> RepoDigests { get; init; } = [];

    public const string None = "<none>";

    public string ShortId => Id[..12];
}

/// <summary>What <see cref="ImageStore.Remove"/> did: the tags it dropped and the image it deleted, if any.</summary>
/// <param name="ContentKept">the image is gone from the store's view, but its layer stays on disk until no container
/// uses it (after a forced removal).</param>
public sealed record RemovedImage(IReadOnlyList<string> Untagged, string? DeletedId, bool ContentKept = false);

/// <summary>
/// A container that uses an image, as the caller knows it (the store knows nothing of containers): an image that a
/// container uses, running or stopped, is not removed without force, and its layer stays until no container uses it.
/// </summary>
public sealed record ImageUser(string ImageId, string ContainerId, bool Running)
{
    public string ShortContainerId => ContainerId.Length > 12 ? ContainerId[..12] : ContainerId;
}

/// <summary>
/// The local image store:
/// <c>&lt;root&gt;/images/&lt;id&gt;/rootfs/</c> (the extracted layer, an overlayfs lowerdir),
/// <c>&lt;root&gt;/images/&lt;id&gt;/image.json</c> and the tag index <c>&lt;root&gt;/images/repositories.json</c>.
/// The ID is the sha256 of the uncompressed tar stream, so identical content is stored once.
/// </summary>
/// <remarks>
/// Every change to the store happens under an flock on <c>images/.lock</c> and by rename: a layer is extracted into
/// a private <c>.tmp-PID-*</c> directory and renamed into place only when complete; the index is rewritten via a
/// temp file, fsync and rename. A crashed import leaves only a <c>.tmp-PID-*</c> entry, swept by the next change
/// once that PID is gone; a leftover that cannot be removed is left for a later sweep, never an error.
/// A layer whose image was removed with force while containers used it is "released": the index lists it, no
/// command shows or resolves it, and it is deleted once no container uses it (<see cref="RemoveReleased"/>).
/// </remarks>
public sealed partial class ImageStore
{
    private const string TempPrefix = ".tmp-";
    private const string TrashPrefix = ".trash-";
    private readonly string _imagesDir;

    public ImageStore(string stateRoot)
    {
        _imagesDir = Path.Combine(Path.GetFullPath(stateRoot), "images");
        // Owner only: a layer's rootfs carries the image's modes (setuid files, world-writable directories).
        if (Directory.Exists(_imagesDir)) StateRoot.PrivateDirectory(_imagesDir);
    }

    private string IndexPath => Path.Combine(_imagesDir, "repositories.json");

    private string LayerDir(string id) => Path.Combine(_imagesDir, id);

    public string RootfsPath(ImageRecord image) => Path.Combine(LayerDir(image.Id), "rootfs");

    /// <summary>
    /// What importing the image's layer created and skipped (device nodes, FIFOs, whiteouts, cleared set-id bits),
    /// for the CLI to report after an import.
    /// </summary>
    public ExtractResult ExtractionOf(ImageRecord image) => Guarded(() => ReadLayer(image.Id).Extracted);

    public ImageRecord Import(string file, string reference, IReadOnlyList<string> changes) =>
        Guarded(() => ImportCore(file, reference, changes));

    public IReadOnlyList<ImageRecord> List() => Guarded(ListCore);

    /// <summary>
    /// NAME (meaning NAME:latest), NAME:TAG, or an image ID prefix (optionally "sha256:"-prefixed) matching exactly one
    /// layer. A name wins over an ID prefix that looks the same, as in Docker.
    /// </summary>
    public ImageRecord Resolve(string reference) => Guarded(() => ResolveCore(reference));

    /// <summary>As <see cref="Resolve"/>, but null when nothing local matches (run then pulls it).</summary>
    public ImageRecord? TryResolve(string reference) => Guarded(() => ResolveCore(reference, orNull: true));

    /// <summary>
    /// By name: drops that tag, and deletes the layer once no tag names it. By ID: deletes the layer and its tag,
    /// but refuses when several tags name it (remove those by name), as Docker does without --force.
    /// An image that one of <paramref name="users"/> uses is not left without a name unless
    /// <paramref name="force"/> is set (and never by ID while such a container runs, as in Docker); when forced, its
    /// layer is released rather than deleted.
    /// </summary>
    public RemovedImage Remove(string reference, bool force, IReadOnlyCollection<ImageUser> users) =>
        Guarded(() =>
        {
            var removed = RemoveCore(reference, force, users);
            CollectLayers();
            return removed;
        });

    /// <summary>Deletes the released layers that none of <paramref name="users"/> uses any more; returns their IDs.</summary>
    public IReadOnlyList<string> RemoveReleased(IReadOnlyCollection<ImageUser> users) => Guarded(() =>
    {
        if (!Directory.Exists(_imagesDir))
            return (IReadOnlyList<string>)[];
        using (FileLock.Acquire(Path.Combine(_imagesDir, ".lock")))
        {
            var index = ReadIndex();
            var deleted = DeleteUnusedReleased(index, users);
            if (deleted.Count > 0)
                WriteIndex(index);
            CollectLayers();
            return deleted;
        }
    });

    /// <summary>Filesystem errors from the framework become the store's one exception type.</summary>
    private static T Guarded<T>(Func<T> action)
    {
        try
        {
            return action();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ImageException(e.Message, e);
        }
    }

    private ImageRecord ImportCore(string file, string reference, IReadOnlyList<string> changes)
    {
        var name = ImageReference.Parse(reference);
        var config = ImageConfig.FromChanges(changes);
        StateRoot.PrivateDirectory(_imagesDir);

        var tempName = $"{TempPrefix}{Environment.ProcessId}-{Guid.NewGuid():N}";
        var temp = Path.Combine(_imagesDir, tempName);
        Directory.CreateDirectory(temp, StateRoot.PrivateMode);
        try
        {
            var layer = Extract(file, temp);
            FailPoint.Check("image-import.extracted");
            var created = DateTimeOffset.UtcNow;
            using (FileLock.Acquire(Path.Combine(_imagesDir, ".lock")))
            {
                SweepLeftovers();
                // Undo may only undo what this import made: a layer it moved into place, never one already stored.
                var placed = false;
                try
                {
                    if (!Directory.Exists(LayerDir(layer.Id)))
                    {
                        Directory.Move(temp, LayerDir(layer.Id));
                        placed = true;
                        SyncDirectory(_imagesDir);
                    }
                    FailPoint.Check("image-import.placed");
                    var index = ReadIndex();
                    index.Repositories[name.ToString()] = new TagEntry { Id = layer.Id, Created = created, Config = config };
                    index.Released.Remove(layer.Id); // imported again: the content is wanted after all
                    WriteIndex(index);
                    return new ImageRecord(layer.Id, name.Repository, name.Tag, created, ReadLayer(layer.Id).Size, config);
                }
                catch when (placed)
                {
                    // Back to the temp name, which the finally below removes; at worst it stays an untagged image.
                    try { Directory.Move(LayerDir(layer.Id), temp); }
                    catch (IOException) { }
                    throw;
                }
            }
        }
        finally
        {
            // Still here if the import failed, or if the same content was already stored.
            RemoveQuietly(tempName);
        }
    }

    /// <summary>
    /// Removes an entry of the images directory that belongs to nobody else (this process's temp, a trash entry, a
    /// dead process's leftover). A failure must not hide the error that got us here nor fail a later command: the
    /// entry is left for the next sweep.
    /// </summary>
    private void RemoveQuietly(string entry)
    {
        try
        {
            FileTree.Remove(_imagesDir, entry);
        }
        // SyscallException: another process or thread sweeping the same leftover removed part of it first.
        catch (Exception e) when (e is ImageException or SyscallException or IOException or UnauthorizedAccessException)
        {
        }
    }

    /// <summary>Extracts into <paramref name="temp"/>/rootfs, hashing the tar stream, and writes image.json.</summary>
    private LayerFile Extract(string file, string temp)
    {
        var rootfs = Path.Combine(temp, "rootfs");
        ExtractResult extracted;
        string id;
        TarCompression compression;
        using (var tar = TarDecompressor.Open(file, out compression))
        using (var hashing = new HashingStream(tar))
        {
            try
            {
                extracted = SafeTarExtractor.Extract(hashing, rootfs);
                // The ID covers the whole stream, including the padding after the end-of-archive marker.
                hashing.CopyTo(Stream.Null);
            }
            catch (ImageException e)
            {
                throw new ImageException($"'{file}': {e.Message}", e);
            }
            id = hashing.HexDigest();
        }

        using (var dir = Fd.OpenDirectory(temp))
        {
            // Without this, a crash soon after the index names the layer could leave files empty on disk.
            Libc.Check(Libc.syncfs(dir.Value), "syncfs", temp);
        }

        var layer = new LayerFile
        {
            Id = id,
            Created = DateTimeOffset.UtcNow,
            Size = DiskUsage.Of(rootfs),
            Compression = compression,
            Extracted = extracted,
        };
        WriteAtomically(Path.Combine(temp, "image.json"),
            JsonSerializer.SerializeToUtf8Bytes(layer, StoreJson.Default.LayerFile));
        return layer;
    }

    /// <summary>Every tag, plus untagged layers as &lt;none&gt;:&lt;none&gt;, newest first.</summary>
    private List<ImageRecord> ListCore()
    {
        if (!Directory.Exists(_imagesDir))
            return [];
        var index = ReadIndex();
        var records = new List<ImageRecord>();
        foreach (var (key, entry) in index.Repositories)
        {
            if (ReadLayerOrNull(entry.Id) is not { } layer)
                continue;
            var name = ImageReference.Parse(key);
            records.Add(new ImageRecord(entry.Id, name.Repository, name.Tag, entry.Created, layer.Size, entry.Config)
            { RepoDigests = layer.RepoDigests ?? [] });
        }
        var tagged = index.Repositories.Values.Select(e => e.Id).ToHashSet(StringComparer.Ordinal);
        foreach (var id in LayerIds().Where(id => !tagged.Contains(id) && !index.Released.Contains(id)))
        {
            if (ReadLayerOrNull(id) is { } layer)
                records.Add(new ImageRecord(id, ImageRecord.None, ImageRecord.None, layer.Created, layer.Size, PulledConfig(id) ?? ImageConfig.Empty)
                { RepoDigests = layer.RepoDigests ?? [] });
        }
        return records.OrderByDescending(r => r.Created).ThenBy(r => r.Repository, StringComparer.Ordinal)
            .ThenBy(r => r.Tag, StringComparer.Ordinal).ToList();
    }

    private ImageRecord ResolveCore(string reference) => ResolveCore(reference, orNull: false)!;

    private ImageRecord? ResolveCore(string reference, bool orNull)
    {
        var records = ListCore();
        if (reference.Contains('@'))
            return ResolveDigest(records, reference, orNull);
        string? prefix;
        if (reference.StartsWith("sha256:", StringComparison.Ordinal))
        {
            prefix = reference["sha256:".Length..];
            if (!IdPrefixPattern().IsMatch(prefix))
                throw ImageReference.InvalidFormat(reference, "an image ID is 'sha256:' and 1 to 64 lower-case hex digits");
        }
        else
        {
            var isName = ImageReference.TryParse(reference, out var name, out var problem);
            if (isName && records.FirstOrDefault(r => r.Repository == name.Repository && r.Tag == name.Tag) is { } byName)
                return byName;
            prefix = IdPrefixPattern().IsMatch(reference) ? reference : null;
            if (!isName && prefix is null)
                throw ImageReference.InvalidFormat(reference, problem);
        }

        if (prefix is not null)
        {
            var ids = records.Select(r => r.Id).Where(id => id.StartsWith(prefix, StringComparison.Ordinal))
                .Distinct().ToList();
            if (ids.Count > 1)
                throw new ImageException($"image ID prefix '{reference}' is ambiguous ({ids.Count} images match)");
            if (ids.Count == 1)
                return records.First(r => r.Id == ids[0]);
        }
        return orNull ? null : throw new ImageException($"image '{reference}' not found");
    }

    private RemovedImage RemoveCore(string reference, bool force, IReadOnlyCollection<ImageUser> users)
    {
        var image = ResolveCore(reference);
        using (FileLock.Acquire(Path.Combine(_imagesDir, ".lock")))
        {
            SweepLeftovers();
            var index = ReadIndex();
            var tags = index.Repositories.Where(kv => kv.Value.Id == image.Id).Select(kv => kv.Key).ToList();
            var byName = image.Repository != ImageRecord.None &&
                         ImageReference.TryParse(reference, out var name, out _) &&
                         name.Repository == image.Repository && name.Tag == image.Tag;
            List<string> untag;
            if (byName)
                untag = [$"{image.Repository}:{image.Tag}"];
            else if (tags.Count > 1 && !force)
                throw new ImageException(
                    $"image {image.ShortId} is referenced by several tags ({string.Join(", ", tags)}); remove them by name");
            else
                untag = tags;

            var stillTagged = tags.Count > untag.Count;
            var keepContent = false;
            if (!stillTagged && users.Where(u => u.ImageId == image.Id).ToList() is [var user, ..] imageUsers)
            {
                // Docker's rules and words: the last name of an image in use goes only with force; by ID, an image
                // of a running container not even then.
                if (byName && !force)
                    throw new ImageException($"conflict: unable to remove repository reference \"{reference}\" (must force) - " +
                                             $"container {user.ShortContainerId} is using its referenced image {image.ShortId}");
                if (!byName && imageUsers.FirstOrDefault(u => u.Running) is { } running)
                    throw new ImageException($"conflict: unable to delete {image.ShortId} (cannot be forced) - " +
                                             $"image is being used by running container {running.ShortContainerId}");
                if (!byName && !force)
                    throw new ImageException($"conflict: unable to delete {image.ShortId} (must be forced) - " +
                                             $"image is being used by stopped container {user.ShortContainerId}");
                keepContent = true;
            }

            foreach (var tag in untag)
                index.Repositories.Remove(tag);
            string? trash = null;
            if (keepContent)
            {
                if (!index.Released.Contains(image.Id))
                    index.Released.Add(image.Id);
            }
            else if (!stillTagged && Directory.Exists(LayerDir(image.Id)))
            {
                // Renamed away first so the layer vanishes atomically; the slow recursive delete comes after.
                trash = $"{TrashPrefix}{image.Id}-{Guid.NewGuid():N}";
                Directory.Move(LayerDir(image.Id), Path.Combine(_imagesDir, trash));
                SyncDirectory(_imagesDir);
                index.Released.Remove(image.Id);
            }
            // Layers released earlier whose last container has gone meanwhile go too.
            DeleteUnusedReleased(index, users);
            WriteIndex(index);
            if (trash is not null)
                RemoveQuietly(trash);
            return new RemovedImage(untag, stillTagged ? null : image.Id, keepContent);
        }
    }

    /// <summary>Under the lock: deletes released layers that no tag names and no user uses; the caller writes the index.</summary>
    private List<string> DeleteUnusedReleased(RepositoriesFile index, IReadOnlyCollection<ImageUser> users)
    {
        var inUse = users.Select(u => u.ImageId).Concat(index.Repositories.Values.Select(e => e.Id))
            .ToHashSet(StringComparer.Ordinal);
        var deleted = new List<string>();
        foreach (var id in index.Released.ToList())
        {
            if (inUse.Contains(id))
                continue;
            if (Directory.Exists(LayerDir(id)))
            {
                var trash = $"{TrashPrefix}{id}-{Guid.NewGuid():N}";
                Directory.Move(LayerDir(id), Path.Combine(_imagesDir, trash));
                RemoveQuietly(trash);
            }
            index.Released.Remove(id);
            deleted.Add(id);
        }
        if (deleted.Count > 0)
            SyncDirectory(_imagesDir);
        return deleted;
    }

    private IEnumerable<string> LayerIds() =>
        Directory.EnumerateDirectories(_imagesDir).Select(Path.GetFileName).OfType<string>()
            .Where(n => FullIdPattern().IsMatch(n));

    private LayerFile ReadLayer(string id) =>
        ReadLayerOrNull(id) ?? throw new ImageException($"image {id[..12]}: image.json is missing");

    private LayerFile? ReadLayerOrNull(string id)
    {
        var path = Path.Combine(LayerDir(id), "image.json");
        if (!File.Exists(path))
            return null;
        return ReadJson(path, StoreJson.Default.LayerFile);
    }

    private RepositoriesFile ReadIndex() =>
        File.Exists(IndexPath) ? ReadJson(IndexPath, StoreJson.Default.RepositoriesFile) : new RepositoriesFile();

    private void WriteIndex(RepositoriesFile index) =>
        WriteAtomically(IndexPath, JsonSerializer.SerializeToUtf8Bytes(index, StoreJson.Default.RepositoriesFile));

    private static T ReadJson<T>(string path, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type)
    {
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllBytes(path), type)
                   ?? throw new ImageException($"'{path}' is empty");
        }
        catch (JsonException e)
        {
            throw new ImageException($"'{path}' is corrupt: {e.Message}", e);
        }
    }

    /// <summary>Temp file in the same directory, fsync, rename over the target, fsync the directory.</summary>
    private void WriteAtomically(string path, byte[] content)
    {
        var directory = Path.GetDirectoryName(path)!;
        var temp = Path.Combine(directory, $"{TempPrefix}{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write))
            {
                stream.Write(content);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, path, overwrite: true);
            SyncDirectory(directory);
        }
        finally
        {
            File.Delete(temp); // no-op once renamed
        }
    }

    private static void SyncDirectory(string path)
    {
        using var dir = Fd.OpenDirectory(path);
        dir.Fsync();
    }

    /// <summary>
    /// Removes what crashed processes left: temp entries whose PID is gone, and trash. Runs under the lock, so it
    /// never races a live import's commit; a live import's temp directory carries a live PID and is left alone.
    /// </summary>
    private void SweepLeftovers()
    {
        foreach (var path in Directory.EnumerateFileSystemEntries(_imagesDir))
        {
            var name = Path.GetFileName(path);
            var match = TempNamePattern().Match(name);
            var abandoned = name.StartsWith(TrashPrefix, StringComparison.Ordinal) ||
                            (match.Success && !Directory.Exists($"/proc/{match.Groups[1].Value}"));
            if (abandoned)
                RemoveQuietly(name);
        }
    }

    [GeneratedRegex("^[a-f0-9]{64}$")]
    private static partial Regex FullIdPattern();

    [GeneratedRegex("^[a-f0-9]{1,64}$")]
    private static partial Regex IdPrefixPattern();

    [GeneratedRegex(@"^\.tmp-(\d+)-")]
    private static partial Regex TempNamePattern();

    /// <summary>Hashes everything read through it (the layer store's digests too).</summary>
    internal sealed class HashingStream(Stream inner) : ReadOnlyStream(inner)
    {
        private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

        public override int Read(Span<byte> buffer)
        {
            var n = Inner.Read(buffer);
            _hash.AppendData(buffer[..n]);
            return n;
        }

        public string HexDigest() => Convert.ToHexStringLower(_hash.GetHashAndReset());

        protected override void Dispose(bool disposing)
        {
            if (disposing)
                _hash.Dispose();
            base.Dispose(disposing);
        }
    }
}

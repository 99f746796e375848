using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using MiniDocker.Images.Native;

namespace MiniDocker.Images;

/// <summary>One NAME:TAG (or an untagged layer, shown as &lt;none&gt;) with its layer's facts and its config.</summary>
public sealed record ImageRecord(string Id, string Repository, string Tag, DateTimeOffset Created, long Size, ImageConfig Config)
{
    public const string None = "<none>";

    public string ShortId => Id[..12];
}

/// <summary>What <see cref="ImageStore.Remove"/> did: the tags it dropped and the layer it deleted, if any.</summary>
public sealed record RemovedImage(IReadOnlyList<string> Untagged, string? DeletedId);

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
/// once that PID is gone.
/// </remarks>
public sealed partial class ImageStore
{
    private const string TempPrefix = ".tmp-";
    private const string TrashPrefix = ".trash-";
    private readonly string _imagesDir;

    public ImageStore(string stateRoot)
    {
        _imagesDir = Path.Combine(Path.GetFullPath(stateRoot), "images");
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

    /// <summary>
    /// By name: drops that tag, and deletes the layer once no tag names it. By ID: deletes the layer and its tag,
    /// but refuses when several tags name it (remove those by name), as Docker does without --force.
    /// </summary>
    public RemovedImage Remove(string reference) => Guarded(() => RemoveCore(reference));

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
        Directory.CreateDirectory(_imagesDir);

        var temp = Path.Combine(_imagesDir, $"{TempPrefix}{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(temp);
        try
        {
            var layer = Extract(file, temp);
            var created = DateTimeOffset.UtcNow;
            using (FileLock.Acquire(Path.Combine(_imagesDir, ".lock")))
            {
                SweepLeftovers();
                if (!Directory.Exists(LayerDir(layer.Id)))
                {
                    Directory.Move(temp, LayerDir(layer.Id));
                    SyncDirectory(_imagesDir);
                }
                var index = ReadIndex();
                index.Repositories[name.ToString()] = new TagEntry { Id = layer.Id, Created = created, Config = config };
                WriteIndex(index);
                return new ImageRecord(layer.Id, name.Repository, name.Tag, created, ReadLayer(layer.Id).Size, config);
            }
        }
        finally
        {
            // Still here if the import failed, or if the same content was already stored.
            if (Directory.Exists(temp))
                Directory.Delete(temp, recursive: true);
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
            records.Add(new ImageRecord(entry.Id, name.Repository, name.Tag, entry.Created, layer.Size, entry.Config));
        }
        var tagged = index.Repositories.Values.Select(e => e.Id).ToHashSet(StringComparer.Ordinal);
        foreach (var id in LayerIds().Where(id => !tagged.Contains(id)))
        {
            if (ReadLayerOrNull(id) is { } layer)
                records.Add(new ImageRecord(id, ImageRecord.None, ImageRecord.None, layer.Created, layer.Size, ImageConfig.Empty));
        }
        return records.OrderByDescending(r => r.Created).ThenBy(r => r.Repository, StringComparer.Ordinal)
            .ThenBy(r => r.Tag, StringComparer.Ordinal).ToList();
    }

    private ImageRecord ResolveCore(string reference)
    {
        var records = ListCore();
        if (!reference.StartsWith("sha256:", StringComparison.Ordinal) &&
            ImageReference.TryParse(reference, out var name, out _))
        {
            var byName = records.FirstOrDefault(r => r.Repository == name.Repository && r.Tag == name.Tag);
            if (byName is not null)
                return byName;
        }

        var prefix = reference.StartsWith("sha256:", StringComparison.Ordinal) ? reference["sha256:".Length..] : reference;
        if (IdPrefixPattern().IsMatch(prefix))
        {
            var ids = records.Select(r => r.Id).Where(id => id.StartsWith(prefix, StringComparison.Ordinal))
                .Distinct().ToList();
            if (ids.Count > 1)
                throw new ImageException($"image ID prefix '{reference}' is ambiguous ({ids.Count} images match)");
            if (ids.Count == 1)
                return records.First(r => r.Id == ids[0]);
        }
        throw new ImageException($"image '{reference}' not found");
    }

    private RemovedImage RemoveCore(string reference)
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
            else if (tags.Count > 1)
                throw new ImageException(
                    $"image {image.ShortId} is referenced by several tags ({string.Join(", ", tags)}); remove them by name");
            else
                untag = tags;

            foreach (var tag in untag)
                index.Repositories.Remove(tag);
            var stillTagged = index.Repositories.Values.Any(e => e.Id == image.Id);
            string? trash = null;
            if (!stillTagged && Directory.Exists(LayerDir(image.Id)))
            {
                // Renamed away first so the layer vanishes atomically; the slow recursive delete comes after.
                trash = Path.Combine(_imagesDir, $"{TrashPrefix}{image.Id}-{Guid.NewGuid():N}");
                Directory.Move(LayerDir(image.Id), trash);
                SyncDirectory(_imagesDir);
            }
            WriteIndex(index);
            if (trash is not null)
                Directory.Delete(trash, recursive: true);
            return new RemovedImage(untag, stillTagged ? null : image.Id);
        }
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
            if (!abandoned)
                continue;
            if (Directory.Exists(path))
                Directory.Delete(path, recursive: true);
            else
                File.Delete(path);
        }
    }

    [GeneratedRegex("^[a-f0-9]{64}$")]
    private static partial Regex FullIdPattern();

    [GeneratedRegex("^[a-f0-9]{1,64}$")]
    private static partial Regex IdPrefixPattern();

    [GeneratedRegex(@"^\.tmp-(\d+)-")]
    private static partial Regex TempNamePattern();

    /// <summary>Hashes everything read through it.</summary>
    private sealed class HashingStream(Stream inner) : ReadOnlyStream(inner)
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

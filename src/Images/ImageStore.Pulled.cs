using System.Text.Json;
using MiniDocker.Images.Layers;
using MiniDocker.Images.Registry;
using MiniDocker.Linux;

namespace MiniDocker.Images;

/// <summary>
/// Pulled (layered) images: <c>images/&lt;id&gt;/</c> holds image.json (listing the layers' diff ids) and the registry's
/// config.json, and the layers live once each in the <see cref="LayerStore"/>. The ID is the config's digest, as in
/// Docker. An imported image is the one-layer case: its layer is its own rootfs/.
/// </summary>
public sealed partial class ImageStore
{
    public LayerStore Layers => new(_imagesDir);

    /// <summary>The overlay lower directories of a container of <paramref name="image"/>, top-most first.</summary>
    public IReadOnlyList<string> LowerDirs(ImageRecord image) => Guarded(() =>
    {
        var layer = ReadLayer(image.Id);
        if (layer.Layers is not { } diffIds)
            return (IReadOnlyList<string>)[RootfsPath(image)];
        var layers = Layers;
        foreach (var diffId in diffIds.Where(d => !layers.Has(d)))
            throw new ImageException($"image {image.ShortId}: layer {diffId} is missing from the layer store (pull the image again)");
        return diffIds.AsEnumerable().Reverse().Select(layers.LowerDir).ToList();
    });

    /// <summary>The registry's image config (for inspect and history), or null for an imported image.</summary>
    public OciImageConfig? RegistryConfigOf(ImageRecord image) => Guarded(() => ReadPulledConfig(image.Id));

    /// <summary>Diff ids of a pulled image, bottom first; null for an imported one.</summary>
    public IReadOnlyList<string>? LayerDiffIds(ImageRecord image) => Guarded(() => ReadLayer(image.Id).Layers);

    public bool HasImage(string id) => File.Exists(Path.Combine(LayerDir(id), "image.json"));

    private OciImageConfig? ReadPulledConfig(string id)
    {
        var path = Path.Combine(LayerDir(id), "config.json");
        return File.Exists(path) ? JsonSerializer.Deserialize(File.ReadAllBytes(path), RegistryJson.Default.OciImageConfig) : null;
    }

    private ImageConfig? PulledConfig(string id) => ReadPulledConfig(id) is { } config ? FromRegistry(config) : null;

    /// <summary>The parts of a registry config that a container uses.</summary>
    public static ImageConfig FromRegistry(OciImageConfig config)
    {
        var c = config.Config ?? new OciContainerConfig();
        return new ImageConfig(c.Cmd?.ToArray() ?? [], c.Entrypoint?.ToArray() ?? [], c.Env?.ToArray() ?? [],
            string.IsNullOrEmpty(c.WorkingDir) ? null : c.WorkingDir,
            c.ExposedPorts?.Keys.Select(p => p.Contains('/') ? p : p + "/tcp").ToArray() ?? [],
            string.IsNullOrEmpty(c.User) ? null : c.User, string.IsNullOrEmpty(c.StopSignal) ? null : c.StopSignal,
            c.Labels, c.Volumes?.Keys.Order(StringComparer.Ordinal).ToArray());
    }

    /// <summary>
    /// Records a pulled image whose layers are all in the layer store: writes images/&lt;id&gt; (via a temp directory
    /// and rename) unless it is there, adds the repo digest, and points <paramref name="tag"/> (if any) at it.
    /// </summary>
    public ImageRecord AddPulled(string id, byte[] configJson, OciImageConfig config, IReadOnlyList<string> diffIds,
        string? tag, string? repoDigest, string? repository = null) => Guarded(() =>
    {
        StateRoot.PrivateDirectory(_imagesDir);
        var imageConfig = FromRegistry(config);
        var created = config.Created ?? DateTimeOffset.UtcNow;
        using (FileLock.Acquire(Path.Combine(_imagesDir, ".lock")))
        {
            SweepLeftovers();
            LayerFile layer;
            if (ReadLayerOrNull(id) is { } existing)
            {
                layer = existing;
                layer.RepoDigests ??= [];
                if (repoDigest is not null && !layer.RepoDigests.Contains(repoDigest))
                {
                    layer.RepoDigests.Add(repoDigest);
                    WriteAtomically(Path.Combine(LayerDir(id), "image.json"),
                        JsonSerializer.SerializeToUtf8Bytes(layer, StoreJson.Default.LayerFile));
                }
            }
            else
            {
                var layers = Layers;
                layer = new LayerFile
                {
                    Id = id,
                    Created = created,
                    Size = diffIds.Sum(d => layers.Info(d).Size),
                    Compression = TarCompression.None,
                    Extracted = new ExtractResult(0, 0, 0, 0, 0, 0, 0, 0),
                    Layers = diffIds.ToList(),
                    RepoDigests = repoDigest is null ? [] : [repoDigest], // a loaded image has none
                };
                var tempName = $"{TempPrefix}{Environment.ProcessId}-{Guid.NewGuid():N}";
                var temp = Path.Combine(_imagesDir, tempName);
                Directory.CreateDirectory(temp, StateRoot.PrivateMode);
                try
                {
                    File.WriteAllBytes(Path.Combine(temp, "config.json"), configJson);
                    WriteAtomically(Path.Combine(temp, "image.json"), JsonSerializer.SerializeToUtf8Bytes(layer, StoreJson.Default.LayerFile));
                    Directory.Move(temp, LayerDir(id));
                    SyncDirectory(_imagesDir);
                }
                finally
                {
                    if (Directory.Exists(temp))
                        RemoveQuietly(tempName);
                }
            }
            var index = ReadIndex();
            repository ??= repoDigest is null ? ImageRecord.None : repoDigest[..repoDigest.IndexOf('@')];
            if (tag is not null)
                index.Repositories[$"{repository}:{tag}"] = new TagEntry { Id = id, Created = created, Config = imageConfig };
            index.Released.Remove(id);
            WriteIndex(index);
            return new ImageRecord(id, repository, tag ?? ImageRecord.None, created, layer.Size, imageConfig)
            { RepoDigests = layer.RepoDigests ?? [] };
        }
    });

    /// <summary>`tag SOURCE TARGET`: TARGET names SOURCE's image, with its config.</summary>
    public ImageRecord Tag(string source, string target) => Guarded(() =>
    {
        var image = ResolveCore(source);
        var name = ImageReference.Parse(target);
        using (FileLock.Acquire(Path.Combine(_imagesDir, ".lock")))
        {
            var index = ReadIndex();
            index.Repositories[name.ToString()] = new TagEntry { Id = image.Id, Created = image.Created, Config = image.Config };
            WriteIndex(index);
        }
        return image with { Repository = name.Repository, Tag = name.Tag };
    });

    /// <summary>
    /// `image prune`: deletes untagged images (with <paramref name="all"/>, every image) that no container uses,
    /// then the layers no image names. Returns the deleted image IDs and the untagged names.
    /// </summary>
    public (IReadOnlyList<string> Untagged, IReadOnlyList<string> Deleted) Prune(bool all, IReadOnlyCollection<ImageUser> users) =>
        Guarded(() =>
        {
            var used = users.Select(u => u.ImageId).ToHashSet(StringComparer.Ordinal);
            var untagged = new List<string>();
            var deleted = new List<string>();
            foreach (var image in ListCore().Where(i => !used.Contains(i.Id)))
            {
                if (image.Repository == ImageRecord.None)
                {
                    var removed = RemoveCore(image.Id, force: false, users);
                    if (removed.DeletedId is { } id) deleted.Add(id);
                }
                else if (all)
                {
                    var removed = RemoveCore($"{image.Repository}:{image.Tag}", force: false, users);
                    untagged.AddRange(removed.Untagged);
                    if (removed.DeletedId is { } id) deleted.Add(id);
                }
            }
            CollectLayers();
            return ((IReadOnlyList<string>)untagged, (IReadOnlyList<string>)deleted.Distinct().ToList());
        });

    /// <summary>Deletes layers that no stored image (tagged, untagged or released) names.</summary>
    private void CollectLayers()
    {
        if (!Directory.Exists(_imagesDir))
            return;
        var referenced = new HashSet<string>(StringComparer.Ordinal);
        foreach (var id in LayerIds())
            if (ReadLayerOrNull(id)?.Layers is { } layers)
                referenced.UnionWith(layers);
        Layers.RemoveUnreferenced(referenced);
    }

    private ImageRecord? ResolveDigest(List<ImageRecord> records, string reference, bool orNull)
    {
        var parsed = DistributionReference.Parse(reference);
        var wanted = $"{parsed.FamiliarRepository}@{parsed.Digest}";
        var match = records.FirstOrDefault(r => r.RepoDigests.Contains(wanted));
        return match ?? (orNull ? null : throw new ImageException($"image '{reference}' not found"));
    }
}

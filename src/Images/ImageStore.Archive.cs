namespace MiniDocker.Images;

/// <summary>What `save` (and later `push`) read of an image: its layer directories and its registry config.</summary>
public sealed partial class ImageStore
{
    /// <summary>The image's layer directories, bottom first, and whether they hold overlay whiteouts.</summary>
    public IReadOnlyList<string> LayerDirectories(ImageRecord image) => Guarded(() =>
        ReadLayer(image.Id).Layers is { } diffIds ? diffIds.Select(Layers.DiffDir).ToList() : (IReadOnlyList<string>)[RootfsPath(image)]);

    /// <summary>The registry's config.json as pulled (byte for byte), or null for an imported image.</summary>
    public byte[]? PulledConfigBytes(ImageRecord image) => Guarded(() =>
    {
        var path = Path.Combine(LayerDir(image.Id), "config.json");
        return File.Exists(path) ? File.ReadAllBytes(path) : null;
    });

    /// <summary>A private scratch directory in the store's file system (large layers do not fit a small /tmp), swept after a crash like an import's.</summary>
    public string ScratchDirectory(string purpose)
    {
        var dir = Path.Combine(_imagesDir, $".tmp-{Environment.ProcessId}-{purpose}-{Guid.NewGuid():N}");
        Linux.StateRoot.PrivateDirectory(_imagesDir);
        Directory.CreateDirectory(dir, Linux.StateRoot.PrivateMode);
        return dir;
    }

    /// <summary>Removes a directory made by <see cref="ScratchDirectory"/>.</summary>
    public static void RemoveScratch(string scratch) =>
        FileTree.Remove(Path.GetDirectoryName(scratch)!, Path.GetFileName(scratch));
}

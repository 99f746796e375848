using System.CommandLine;
using MiniDocker.Images;
using MiniDocker.Images.Archive;
using MiniDocker.Runtime;

namespace MiniDocker.Cli.Commands;

/// <summary>`minidocker export CONTAINER [-o FILE]`: the container's merged filesystem as a tar.</summary>
public static class ExportCommand
{
    public static IEnumerable<Command> Create() => [CreateExport("export")];

    public static Command CreateExport(string verb)
    {
        var output = new Option<string>("--output", "-o") { Description = "Write to a file, instead of STDOUT" };
        var container = new Argument<string>("CONTAINER");
        var command = new Command(verb, "Export a stopped container's filesystem as a tar archive") { output, container };
        command.SetAction(p =>
        {
            var root = Globals.StateRoot(p);
            var containers = new ContainerStore(root);
            var entry = containers.Find(p.GetValue(container)!);
            // As for commit: a live container could swap a directory for a symlink while the tree is walked.
            if (entry.State.Status is ContainerStatus.Running or ContainerStatus.Restarting)
                throw new ImageException($"container {entry.Config.Name} is running: stop it before export");
            var store = new ImageStore(root);
            var upper = Path.Combine(containers.DirectoryOf(entry.Config.Id), "upper");
            var layers = new List<string>();
            HostIdRange? topIds = null;
            if (Directory.Exists(upper))
            {
                layers.Add(upper);
                topIds = UpperIds(entry.State);
            }
            layers.AddRange(store.LayerDirectories(store.Resolve(entry.Config.ImageId)).Reverse());
            if (p.GetValue(output) is not { Length: > 0 } file)
            {
                if (!Console.IsOutputRedirected)
                    throw new ImageException("cowardly refusing to save to a terminal. Use the -o flag or redirect");
                using var stdout = Console.OpenStandardOutput();
                LayerTarWriter.WriteMerged(layers, stdout, topIds);
                return 0;
            }
            var full = Path.GetFullPath(file);
            var temp = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.tmp-{Environment.ProcessId}");
            try
            {
                using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
                    LayerTarWriter.WriteMerged(layers, stream, topIds);
                File.Move(temp, full, overwrite: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new ImageException($"failed to export to '{file}': {e.Message}", e);
            }
            finally
            {
                File.Delete(temp);
            }
            return 0;
        });
        return command;
    }

    /// <summary>A --userns=auto container's range: its upper directory's files are owned by the range's host ids.</summary>
    internal static HostIdRange? UpperIds(ContainerState state) =>
        state.IdMapping is { } ids ? new HostIdRange(ids.HostUid, ids.HostGid, ids.Size) : null;
}

using System.CommandLine;
using MiniDocker.Images;
using MiniDocker.Images.Archive;
using MiniDocker.Images.Registry;
using MiniDocker.Runtime;

namespace MiniDocker.Cli.Commands;

/// <summary>`minidocker commit [-c CHANGE]... [-m MSG] [-a AUTHOR] CONTAINER [IMAGE[:TAG]]` (also `container commit`).</summary>
public static class CommitCommand
{
    public static IEnumerable<Command> Create() => [CreateCommit("commit")];

    public static Command CreateCommit(string verb)
    {
        var change = new Option<string[]>("--change", "-c") { Description = "Apply a Dockerfile instruction (CMD, ENTRYPOINT, ENV, WORKDIR, EXPOSE, VOLUME)" };
        var message = new Option<string>("--message", "-m") { Description = "Commit message" };
        var author = new Option<string>("--author", "-a") { Description = "Author" };
        var container = new Argument<string>("CONTAINER");
        var reference = new Argument<string?>("REPOSITORY[:TAG]") { Arity = ArgumentArity.ZeroOrOne };
        var command = new Command(verb, "Create a new image from a stopped container's changes") { change, message, author, container, reference };
        command.SetAction(p =>
        {
            var root = Globals.StateRoot(p);
            var containers = new ContainerStore(root);
            var entry = containers.Find(p.GetValue(container)!);
            // A running container could swap a directory of its upper layer for a symlink while it is walked.
            if (entry.State.Status is ContainerStatus.Running or ContainerStatus.Restarting)
                throw new ImageException($"container {entry.Config.Name} is running: stop it before commit (pausing is not supported)");
            var upper = Path.Combine(containers.DirectoryOf(entry.Config.Id), "upper");
            if (!Directory.Exists(upper))
                throw new ImageException($"container {entry.Config.Name} has no upper directory to commit");
            var committer = new ImageCommitter(new ImageStore(root), RegistryConfig.Load(root).MaxLayerBytes);
            var image = committer.Commit(entry.Config.ImageId, upper, p.GetValue(change) ?? [], p.GetValue(message),
                p.GetValue(author), p.GetValue(reference), ExportCommand.UpperIds(entry.State));
            Console.WriteLine($"sha256:{image.Id}");
            return 0;
        });
        return command;
    }
}

namespace BtrfsLite.Check; public sealed class TreeWalkResult { }

// Cluster, process and namespace tests share 2 cores and real ports: run test classes one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

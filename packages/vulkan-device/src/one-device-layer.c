/*
 * A Vulkan instance layer that shows the process one physical device: number AIM_VK_DEVICE_INDEX (modulo the devices
 * the driver lists) of vkEnumeratePhysicalDevices, and only that device's group. With several identical GPUs in one
 * machine, nothing else tells them apart to WebGPU (Dawn's Node binding returns the first adapter it finds, choosing
 * by name only), so each MPI rank of a machine sets its local rank here and gets a GPU of its own. Without
 * AIM_VK_DEVICE_INDEX the layer passes everything through. With AIM_VK_DEVICE_REPORT naming a file, each choice is
 * written there as "<index> <count>", so the process can say which device it got.
 *
 * The loader-layer interface (vk_layer.h, interface version 2) is declared below instead of included, so the layer
 * builds with a C compiler alone; these structures have not changed since that interface was published (2016).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int32_t VkResult;
typedef int32_t VkStructureType;
typedef uint32_t VkBool32;
typedef struct VkInstance_T *VkInstance;
typedef struct VkPhysicalDevice_T *VkPhysicalDevice;
typedef void (*PFN_vkVoidFunction)(void);
typedef PFN_vkVoidFunction (*PFN_vkGetInstanceProcAddr)(VkInstance instance, const char *name);
typedef PFN_vkVoidFunction (*PFN_GetPhysicalDeviceProcAddr)(VkInstance instance, const char *name);
typedef void *PFN_vkGetDeviceProcAddr;

enum {
  VK_SUCCESS = 0,
  VK_INCOMPLETE = 5,
  VK_ERROR_OUT_OF_HOST_MEMORY = -1,
  VK_ERROR_INITIALIZATION_FAILED = -3,
  VK_STRUCTURE_TYPE_LOADER_INSTANCE_CREATE_INFO = 47,
  VK_LAYER_LINK_INFO = 0,
  VK_MAX_DEVICE_GROUP_SIZE = 32,
};

typedef struct {
  VkStructureType sType;
  const void *pNext;
} VkBaseInStructure;

typedef struct VkLayerInstanceLink_ {
  struct VkLayerInstanceLink_ *pNext;
  PFN_vkGetInstanceProcAddr pfnNextGetInstanceProcAddr;
  PFN_GetPhysicalDeviceProcAddr pfnNextGetPhysicalDeviceProcAddr;
} VkLayerInstanceLink;

typedef struct {
  VkStructureType sType; /* VK_STRUCTURE_TYPE_LOADER_INSTANCE_CREATE_INFO */
  const void *pNext;
  int32_t function; /* VkLayerFunction */
  union {
    VkLayerInstanceLink *pLayerInfo;
    void *other[2];
  } u;
} VkLayerInstanceCreateInfo;

typedef struct {
  int32_t sType; /* LAYER_NEGOTIATE_INTERFACE_STRUCT */
  void *pNext;
  uint32_t loaderLayerInterfaceVersion;
  PFN_vkGetInstanceProcAddr pfnGetInstanceProcAddr;
  PFN_vkGetDeviceProcAddr pfnGetDeviceProcAddr;
  PFN_GetPhysicalDeviceProcAddr pfnGetPhysicalDeviceProcAddr;
} VkNegotiateLayerInterface;

typedef struct {
  VkStructureType sType;
  void *pNext;
  uint32_t physicalDeviceCount;
  VkPhysicalDevice physicalDevices[VK_MAX_DEVICE_GROUP_SIZE];
  VkBool32 subsetAllocation;
} VkPhysicalDeviceGroupProperties;

typedef VkResult (*PFN_vkCreateInstance)(const VkBaseInStructure *info, const void *allocator, VkInstance *instance);
typedef void (*PFN_vkDestroyInstance)(VkInstance instance, const void *allocator);
typedef VkResult (*PFN_vkEnumeratePhysicalDevices)(VkInstance instance, uint32_t *count, VkPhysicalDevice *devices);
typedef VkResult (*PFN_vkEnumeratePhysicalDeviceGroups)(VkInstance instance, uint32_t *count, VkPhysicalDeviceGroupProperties *groups);
typedef void (*PFN_vkGetPhysicalDeviceProperties)(VkPhysicalDevice device, void *properties);

/* VkPhysicalDeviceProperties: apiVersion, driverVersion, vendorID, deviceID, then deviceType (an int32 at byte 16),
 * the name, and the limits; the whole structure is under 1 KB in every Vulkan version. */
enum { DEVICE_PROPERTIES_BYTES = 4096, DEVICE_TYPE_OFFSET = 16, VK_PHYSICAL_DEVICE_TYPE_CPU = 4 };

/* What the layer below answers, per instance (a process creates few: a short list under a lock is enough). */
struct next_layer {
  VkInstance instance;
  PFN_vkGetInstanceProcAddr getInstanceProcAddr;
  PFN_GetPhysicalDeviceProcAddr getPhysicalDeviceProcAddr;
  PFN_vkDestroyInstance destroyInstance;
  PFN_vkEnumeratePhysicalDevices enumeratePhysicalDevices;
  PFN_vkEnumeratePhysicalDeviceGroups enumeratePhysicalDeviceGroups;
  PFN_vkGetPhysicalDeviceProperties getPhysicalDeviceProperties;
  struct next_layer *link;
};

static struct next_layer *instances = NULL;
static pthread_mutex_t instances_lock = PTHREAD_MUTEX_INITIALIZER;

static struct next_layer *find_next(VkInstance instance) {
  pthread_mutex_lock(&instances_lock);
  struct next_layer *n = instances;
  while (n && n->instance != instance) n = n->link;
  pthread_mutex_unlock(&instances_lock);
  return n;
}

/* The index asked for, or -1 when AIM_VK_DEVICE_INDEX is unset or not a non-negative integer. */
static long wanted_index(void) {
  const char *text = getenv("AIM_VK_DEVICE_INDEX");
  if (!text || !*text) return -1;
  char *end = NULL;
  long index = strtol(text, &end, 10);
  return (*end == '\0' && index >= 0) ? index : -1;
}

static int is_cpu(struct next_layer *n, VkPhysicalDevice device) {
  static _Alignas(16) unsigned char properties[DEVICE_PROPERTIES_BYTES];
  static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
  pthread_mutex_lock(&lock);
  n->getPhysicalDeviceProperties(device, properties);
  int32_t type;
  memcpy(&type, properties + DEVICE_TYPE_OFFSET, sizeof type);
  pthread_mutex_unlock(&lock);
  return type == VK_PHYSICAL_DEVICE_TYPE_CPU;
}

/*
 * The one device this process may see, or NULL (pass-through) when no index is set or the driver lists none. The
 * index counts GPUs only when there are any: a CPU driver installed beside them (Mesa's lavapipe) takes no rank's turn.
 */
static VkResult chosen_device(struct next_layer *n, VkPhysicalDevice *chosen) {
  *chosen = NULL;
  long index = wanted_index();
  if (index < 0) return VK_SUCCESS;
  uint32_t count = 0;
  VkResult r = n->enumeratePhysicalDevices(n->instance, &count, NULL);
  if (r != VK_SUCCESS || count == 0) return r;
  VkPhysicalDevice *all = calloc(count, sizeof *all);
  if (!all) return VK_ERROR_OUT_OF_HOST_MEMORY;
  r = n->enumeratePhysicalDevices(n->instance, &count, all);
  if ((r == VK_SUCCESS || r == VK_INCOMPLETE) && count > 0) {
    uint32_t gpus = 0;
    for (uint32_t i = 0; i < count; i++)
      if (!is_cpu(n, all[i])) all[gpus++] = all[i];
    if (gpus > 0) count = gpus; /* else every device is a CPU one and all of them stay, in their order */
    *chosen = all[index % count];
    r = VK_SUCCESS;
    const char *report = getenv("AIM_VK_DEVICE_REPORT");
    FILE *f = report && *report ? fopen(report, "w") : NULL;
    if (f) {
      fprintf(f, "%ld %u\n", index % count, count);
      fclose(f);
    }
  }
  free(all);
  return r;
}

static VkResult one_CreateInstance(const VkBaseInStructure *info, const void *allocator, VkInstance *instance) {
  VkLayerInstanceCreateInfo *link = (VkLayerInstanceCreateInfo *)info->pNext;
  while (link && !(link->sType == VK_STRUCTURE_TYPE_LOADER_INSTANCE_CREATE_INFO && link->function == VK_LAYER_LINK_INFO))
    link = (VkLayerInstanceCreateInfo *)link->pNext;
  if (!link || !link->u.pLayerInfo) return VK_ERROR_INITIALIZATION_FAILED;
  PFN_vkGetInstanceProcAddr next_gipa = link->u.pLayerInfo->pfnNextGetInstanceProcAddr;
  PFN_GetPhysicalDeviceProcAddr next_gpdpa = link->u.pLayerInfo->pfnNextGetPhysicalDeviceProcAddr;
  PFN_vkCreateInstance create = (PFN_vkCreateInstance)next_gipa(NULL, "vkCreateInstance");
  if (!create) return VK_ERROR_INITIALIZATION_FAILED;
  link->u.pLayerInfo = link->u.pLayerInfo->pNext; /* the next layer finds its own link */
  VkResult r = create(info, allocator, instance);
  if (r != VK_SUCCESS) return r;

  struct next_layer *n = calloc(1, sizeof *n);
  if (!n) return VK_ERROR_OUT_OF_HOST_MEMORY;
  n->instance = *instance;
  n->getInstanceProcAddr = next_gipa;
  n->getPhysicalDeviceProcAddr = next_gpdpa;
  n->destroyInstance = (PFN_vkDestroyInstance)next_gipa(*instance, "vkDestroyInstance");
  n->enumeratePhysicalDevices = (PFN_vkEnumeratePhysicalDevices)next_gipa(*instance, "vkEnumeratePhysicalDevices");
  n->enumeratePhysicalDeviceGroups = (PFN_vkEnumeratePhysicalDeviceGroups)next_gipa(*instance, "vkEnumeratePhysicalDeviceGroups");
  n->getPhysicalDeviceProperties = (PFN_vkGetPhysicalDeviceProperties)next_gipa(*instance, "vkGetPhysicalDeviceProperties");
  if (!n->enumeratePhysicalDeviceGroups)
    n->enumeratePhysicalDeviceGroups = (PFN_vkEnumeratePhysicalDeviceGroups)next_gipa(*instance, "vkEnumeratePhysicalDeviceGroupsKHR");
  pthread_mutex_lock(&instances_lock);
  n->link = instances;
  instances = n;
  pthread_mutex_unlock(&instances_lock);
  return VK_SUCCESS;
}

static void one_DestroyInstance(VkInstance instance, const void *allocator) {
  pthread_mutex_lock(&instances_lock);
  struct next_layer **at = &instances;
  while (*at && (*at)->instance != instance) at = &(*at)->link;
  struct next_layer *n = *at;
  if (n) *at = n->link;
  pthread_mutex_unlock(&instances_lock);
  if (!n) return;
  n->destroyInstance(instance, allocator);
  free(n);
}

static VkResult one_EnumeratePhysicalDevices(VkInstance instance, uint32_t *count, VkPhysicalDevice *devices) {
  struct next_layer *n = find_next(instance);
  if (!n) return VK_ERROR_INITIALIZATION_FAILED;
  VkPhysicalDevice chosen;
  VkResult r = chosen_device(n, &chosen);
  if (r != VK_SUCCESS || !chosen) return n->enumeratePhysicalDevices(instance, count, devices);
  if (!devices) {
    *count = 1;
    return VK_SUCCESS;
  }
  if (*count == 0) return VK_INCOMPLETE;
  devices[0] = chosen;
  *count = 1;
  return VK_SUCCESS;
}

static VkResult one_EnumeratePhysicalDeviceGroups(VkInstance instance, uint32_t *count, VkPhysicalDeviceGroupProperties *groups) {
  struct next_layer *n = find_next(instance);
  if (!n || !n->enumeratePhysicalDeviceGroups) return VK_ERROR_INITIALIZATION_FAILED;
  VkPhysicalDevice chosen;
  VkResult r = chosen_device(n, &chosen);
  if (r != VK_SUCCESS || !chosen) return n->enumeratePhysicalDeviceGroups(instance, count, groups);
  if (!groups) {
    *count = 1;
    return VK_SUCCESS;
  }
  if (*count == 0) return VK_INCOMPLETE;
  /* The chosen device alone, as a group of one: the caller's sType and pNext stay as it set them. */
  groups[0].physicalDeviceCount = 1;
  memset(groups[0].physicalDevices, 0, sizeof groups[0].physicalDevices);
  groups[0].physicalDevices[0] = chosen;
  groups[0].subsetAllocation = 0;
  *count = 1;
  return VK_SUCCESS;
}

static PFN_vkVoidFunction one_GetInstanceProcAddr(VkInstance instance, const char *name);

static PFN_vkVoidFunction one_GetPhysicalDeviceProcAddr(VkInstance instance, const char *name) {
  struct next_layer *n = find_next(instance);
  return n && n->getPhysicalDeviceProcAddr ? n->getPhysicalDeviceProcAddr(instance, name) : NULL;
}

static PFN_vkVoidFunction one_GetInstanceProcAddr(VkInstance instance, const char *name) {
  if (!strcmp(name, "vkGetInstanceProcAddr")) return (PFN_vkVoidFunction)one_GetInstanceProcAddr;
  if (!strcmp(name, "vkCreateInstance")) return (PFN_vkVoidFunction)one_CreateInstance;
  if (!strcmp(name, "vkDestroyInstance")) return (PFN_vkVoidFunction)one_DestroyInstance;
  if (!strcmp(name, "vkEnumeratePhysicalDevices")) return (PFN_vkVoidFunction)one_EnumeratePhysicalDevices;
  struct next_layer *n = instance ? find_next(instance) : NULL;
  if (!strcmp(name, "vkEnumeratePhysicalDeviceGroups") || !strcmp(name, "vkEnumeratePhysicalDeviceGroupsKHR"))
    return n && n->enumeratePhysicalDeviceGroups ? (PFN_vkVoidFunction)one_EnumeratePhysicalDeviceGroups : NULL;
  return n ? n->getInstanceProcAddr(instance, name) : NULL;
}

__attribute__((visibility("default"))) VkResult vkNegotiateLoaderLayerInterfaceVersion(VkNegotiateLayerInterface *v) {
  if (v->loaderLayerInterfaceVersion < 2) return VK_ERROR_INITIALIZATION_FAILED;
  v->loaderLayerInterfaceVersion = 2;
  v->pfnGetInstanceProcAddr = one_GetInstanceProcAddr;
  v->pfnGetPhysicalDeviceProcAddr = one_GetPhysicalDeviceProcAddr;
  return VK_SUCCESS;
}

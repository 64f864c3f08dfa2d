/* The framework's spelling of pjreddie's network names (see core/dn_api.h for why):
 * included first by every header that names `network`, so a translation unit sees the
 * framework's names whichever header it includes first. Never included by the public
 * façade (src/api/api_*.c), which uses include/darknet.h's names. */
#ifndef DN_CORE_NAMES_H
#define DN_CORE_NAMES_H

#define network dn_network
#define parse_network_cfg dn_parse_network_cfg
#define load_network dn_load_network
#define load_weights dn_load_weights
#define load_weights_upto dn_load_weights_upto
#define save_weights dn_save_weights
#define save_weights_upto dn_save_weights_upto
#define set_batch_network dn_set_batch_network
#define resize_network dn_resize_network
#define network_predict dn_network_predict
#define network_width dn_network_width
#define network_height dn_network_height
#define network_inputs dn_network_inputs
#define network_outputs dn_network_outputs
#define get_current_batch dn_get_current_batch
#define get_current_rate dn_get_current_rate
#define free_network dn_free_network
#define get_network_boxes dn_get_network_boxes
#define make_network_boxes dn_make_network_boxes
/* The detection type and the functions on arrays of it: AlexeyAB's API library
 * (libdarknet_alexey.so, src/api/api_alexey.c) exports these names on his larger struct. */
#define detection dn_detection
#define free_detections dn_free_detections
#define do_nms_sort dn_do_nms_sort
#define do_nms_obj dn_do_nms_obj

#endif
